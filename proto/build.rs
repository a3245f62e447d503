//! Generates the tonic/prost code from farm.proto with protox, so no system protoc is needed.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=farm.proto");
    let fds = protox::compile(["farm.proto"], ["."])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
