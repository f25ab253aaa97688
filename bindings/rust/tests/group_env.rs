//! `Group::join_env` (`maml_group_join_env`), which reads torchrun's variables. Its own test
//! binary with one test: it changes the process environment, which must not happen while other
//! threads may read it.
use mamlpp::{Group, Status};

const VARS: [&str; 5] = ["RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"];

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port().to_string()
}

fn set(vars: &[(&str, &str)]) {
    for v in VARS {
        std::env::remove_var(v);
    }
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
}

#[test]
fn join_env_reads_torchruns_variables() {
    set(&[]);
    let e = Group::join_env(0.0).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument, "{e}");
    assert!(e.message.contains("RANK"), "{}", e.message);

    let port = free_port();
    let base = [("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", port.as_str())];
    set(&[&base[..], &[("RANK", "zero")]].concat());
    let e = Group::join_env(60.0).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument, "{e}");
    assert!(e.message.contains("RANK"), "{}", e.message);

    set(&[&base[..], &[("RANK", "0")]].concat());
    let g = Group::join_env(60.0).unwrap();
    assert_eq!((g.rank(), g.world_size(), g.local_rank()), (0, 1, 0));
    drop(g);

    let port = free_port();
    set(&[
        ("RANK", "0"),
        ("WORLD_SIZE", "1"),
        ("LOCAL_RANK", "2"),
        ("MASTER_ADDR", "127.0.0.1"),
        ("MASTER_PORT", port.as_str()),
    ]);
    let g = Group::join_env(0.0).unwrap(); // 0: the default timeout
    assert_eq!(g.local_rank(), 2);
    drop(g);
    set(&[]);
}
