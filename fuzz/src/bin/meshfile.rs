//! mesh.yaml loading: never a panic; an error points at a line of the file.
use meshctl::control::meshfile::{MeshFile, MeshFileError};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Err(MeshFileError::Invalid { line, column, .. }) =
            MeshFile::parse(text, std::path::Path::new("mesh.yaml"))
        {
            // Lines as YAML counts them: a lone CR ends one too.
            let lines = text
                .replace("\r\n", "\n")
                .replace('\r', "\n")
                .lines()
                .count();
            assert!(line >= 1 && line <= lines + 1 && column >= 1);
        }
    });
}
