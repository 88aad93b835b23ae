//! Compiles the gRPC APIs (`proto/*.proto`) and the test-only service (`tests/proto`) with
//! protox — pure Rust, no `protoc` — into tonic code in OUT_DIR.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=tests/proto");
    let mut files: Vec<String> = std::fs::read_dir("proto")?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".proto"))
        .collect();
    files.sort();
    files.push("echo.proto".to_string());
    let fds = protox::compile(&files, ["proto", "tests/proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
