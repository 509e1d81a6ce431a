//! The harness's own contract: a cluster stops, and cleans up, when its owner goes away.

use std::path::PathBuf;

use aksnet_e2e::TestCluster;

fn process_alive(pid: u32) -> bool {
    // A reaped child has no /proc entry; a zombie would show state Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

#[test]
fn a_cluster_dropped_by_a_panicking_test_is_stopped_and_cleaned_up() {
    let cluster = TestCluster::start().expect("start cluster");
    let pid = cluster.pid();
    let state: PathBuf = cluster.state_dir().to_path_buf();
    assert!(process_alive(pid), "testenv runs while the cluster is held");
    assert!(state.is_dir(), "testenv keeps its state in {state:?}");

    let panicked = std::thread::spawn(move || {
        let _owned = cluster;
        panic!("a failing test");
    })
    .join()
    .is_err();

    assert!(panicked);
    assert!(!process_alive(pid), "testenv {pid} stopped after the drop");
    assert!(!state.exists(), "testenv removed its state dir {state:?}");
}
