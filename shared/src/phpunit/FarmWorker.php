<?php
/**
 * Written by testfarm into a PHPUnit worker's directory and named as the bootstrap of
 * the worker's configuration. It loads the stage's own bootstrap (MediaWiki's
 * tests/phpunit/bootstrap.php) once, then serves shards: for each request on its unix
 * socket it forks, and the child returns from this file into PHPUnit, which builds
 * and runs that shard's suite (FarmShardSuite reads the shard from FARM_SHARD_DIR)
 * exactly as a fresh `phpunit` would after its bootstrap. So every shard starts from
 * the same state, the one a new process has once bootstrapped, and pays neither PHP's
 * start nor the bootstrap again; MediaWiki's own per-test isolation runs inside the
 * child as in any run. The parent never runs a test.
 *
 * Protocol, one connection per shard: the agent sends one JSON line
 * {"dir": shard directory, "env": {name: value}} (the variables that differ from the
 * worker's: the run's and task's ids); the worker answers `started <pid>` when the child runs and
 * `exit <code> <signal> <cpu seconds> <peak rss KiB>` when it has ended. The worker
 * exits by itself after FARM_WORKER_IDLE seconds without a request, and when its
 * parent (the agent's executor) goes away.
 */

// phpcs:disable MediaWiki.NamingConventions.PrefixedGlobalFunctions

(static function (): void {
	$stage = getenv( 'FARM_STAGE_BOOTSTRAP' );
	if ( is_string( $stage ) && $stage !== '' ) {
		// Loaded as PHPUnit loads a bootstrap, so that its variables become globals.
		\PHPUnit\Util\FileLoader::checkAndLoad( $stage );
	}
})();

farmWorkerServe();

/** open, dup2 and close of the C library, through PHP's FFI (in php-common). */
function farmWorkerLibc(): FFI {
	static $libc = null;
	$libc ??= FFI::cdef(
		'int open(const char *path, int flags, int mode); int dup2(int from, int to); int close(int fd);',
		'libc.so.6'
	);
	return $libc;
}

function farmWorkerServe(): void {
	if ( !extension_loaded( 'FFI' ) || !extension_loaded( 'pcntl' ) ) {
		fwrite( STDERR, "farm worker: PHP lacks FFI or pcntl, needed to fork shards: " .
			"the agent runs each shard in a process of its own instead\n" );
		exit( 71 );
	}
	farmWorkerLibc();
	$socket = (string)getenv( 'FARM_WORKER_SOCKET' );
	$idle = (float)( getenv( 'FARM_WORKER_IDLE' ) ?: 300 );
	@unlink( $socket );
	$server = stream_socket_server( 'unix://' . $socket, $errno, $error );
	if ( $server === false ) {
		fwrite( STDERR, "farm worker: cannot listen on $socket: $error\n" );
		exit( 70 );
	}
	fwrite( STDERR, sprintf( "farm worker: bootstrapped in %.3f s, serving %s\n",
		microtime( true ) - $_SERVER['REQUEST_TIME_FLOAT'], $socket ) );
	while ( true ) {
		$conn = @stream_socket_accept( $server, $idle );
		if ( $conn === false ) {
			fwrite( STDERR, "farm worker: idle for {$idle} s, exiting\n" );
			exit( 0 );
		}
		$line = fgets( $conn );
		$request = is_string( $line ) ? json_decode( $line, true ) : null;
		$dir = is_array( $request ) && is_string( $request['dir'] ?? null ) ? $request['dir'] : null;
		$env = is_array( $request['env'] ?? null ) ? $request['env'] : [];
		if ( $dir === null || !is_dir( $dir ) ) {
			// The agent's probe whether it listens yet sends nothing.
			@fwrite( $conn, "refused not a shard directory\n" );
			fclose( $conn );
			continue;
		}
		$pid = pcntl_fork();
		if ( $pid === -1 ) {
			fwrite( $conn, "refused fork failed\n" );
			fclose( $conn );
			continue;
		}
		if ( $pid === 0 ) {
			fclose( $conn );
			fclose( $server );
			farmWorkerBecomeShard( $dir, $env );
			// Back into PHPUnit, which goes on as after any bootstrap.
			return;
		}
		@fwrite( $conn, "started $pid\n" );
		$status = 0;
		$usage = [];
		pcntl_waitpid( $pid, $status, 0, $usage );
		$code = pcntl_wifexited( $status ) ? pcntl_wexitstatus( $status ) : -1;
		$signal = pcntl_wifsignaled( $status ) ? pcntl_wtermsig( $status ) : 0;
		$cpu = ( $usage['ru_utime.tv_sec'] ?? 0 ) + ( $usage['ru_utime.tv_usec'] ?? 0 ) / 1e6
			+ ( $usage['ru_stime.tv_sec'] ?? 0 ) + ( $usage['ru_stime.tv_usec'] ?? 0 ) / 1e6;
		$rss = (int)( $usage['ru_maxrss'] ?? 0 );
		@fwrite( $conn, sprintf( "exit %d %d %.6f %d\n", $code, $signal, $cpu, $rss ) );
		fclose( $conn );
	}
}

/**
 * In the child: the shard's directory, output and randomness; the rest is the
 * bootstrapped state every shard of this worker starts from.
 */
function farmWorkerBecomeShard( string $dir, array $env ): void {
	$env['FARM_SHARD_DIR'] = $dir;
	foreach ( $env as $name => $value ) {
		if ( is_string( $name ) && is_string( $value ) ) {
			putenv( "$name=$value" );
			$_ENV[$name] = $_SERVER[$name] = $value;
		}
	}
	// The shard's output goes to its own file: descriptors 1 and 2 are pointed there
	// (PHP has no dup2 of its own), so STDOUT, STDERR and anything started from the
	// shard write there, and the worker's log keeps only the worker's own lines.
	$libc = farmWorkerLibc();
	$fd = $libc->open( "$dir/output.log", 01 | 0100 | 02000, 0644 );
	if ( $fd < 0 || $libc->dup2( $fd, 1 ) < 0 || $libc->dup2( $fd, 2 ) < 0 ) {
		exit( 71 );
	}
	$libc->close( $fd );
	// A fresh process seeds its generators anew; so does each shard.
	mt_srand();
	srand();
}
