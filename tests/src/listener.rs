//! A TCP listener on the host's loopback that counts the connections it accepts: what
//! a sandboxed shard must not reach, and a control that must.

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct CountingListener {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
}

impl CountingListener {
    /// Listens on 127.0.0.1 (a free port) from a thread of its own.
    pub fn start() -> CountingListener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen on 127.0.0.1");
        let port = listener.local_addr().expect("the listener's address").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.read(&mut [0u8; 1]);
            }
        });
        CountingListener { port, accepted }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The count once it reaches `want`, or whatever it is after 5 s (a connection is
    /// counted by the listener's thread a moment after it is made).
    pub fn settled(&self, want: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.accepted() < want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.accepted()
    }
}
