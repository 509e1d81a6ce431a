//! The checked-in CRD YAML must match the types: run `make crds` after changing them.

use std::path::Path;

use aksnet_crds::crdgen::{OUTPUT_PATHS, aksnetwork_crd_yaml};

#[test]
fn checked_in_crd_yaml_matches_the_types() {
    let generated = aksnetwork_crd_yaml().expect("render CRD");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for rel in OUTPUT_PATHS {
        let on_disk = std::fs::read_to_string(root.join(rel))
            .unwrap_or_else(|e| panic!("{rel} is missing ({e}); run `make crds`"));
        assert!(
            on_disk == generated,
            "{rel} has drifted from crds/src; run `make crds` and commit the result"
        );
    }
}
