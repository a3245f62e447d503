//! Generates the tonic/prost code from farm.proto with protox, so no system protoc is
//! needed, and the descriptor set that server reflection serves. Every message derives
//! `serde::Serialize`, so that the CLI's `--json` output is the wire message itself.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=farm.proto");
    let fds = protox::compile(["farm.proto"], ["."])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("farm_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure()
        .type_attribute(".farm.v1", "#[derive(serde::Serialize)]")
        .compile_fds(fds)?;
    Ok(())
}
