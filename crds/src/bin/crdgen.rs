//! Writes the generated CRD YAML into the repository (`make crds`), or with `--check` fails when
//! the checked-in files differ from the types.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aksnet_crds::crdgen::{OUTPUT_PATHS, aksnetwork_crd_yaml};

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let yaml = match aksnetwork_crd_yaml() {
        Ok(y) => y,
        Err(err) => {
            eprintln!("crdgen: rendering the CRD failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut status = ExitCode::SUCCESS;
    for rel in OUTPUT_PATHS {
        let path = root.join(rel);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
                eprintln!("crdgen: {rel} differs from the types; run `make crds`");
                status = ExitCode::FAILURE;
            }
        } else if let Err(err) = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, &yaml))
        {
            eprintln!("crdgen: writing {rel}: {err}");
            status = ExitCode::FAILURE;
        } else {
            println!("wrote {rel}");
        }
    }
    status
}
