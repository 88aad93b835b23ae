//! The control plane's core and its backends; so far the local catalog, `mesh.yaml`.

pub mod meshfile;
