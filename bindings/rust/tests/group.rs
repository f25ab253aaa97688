//! Process groups (`maml_group_*`, since 1.1) in a world of one on 127.0.0.1: join, queries,
//! attach, a collective training step, allreduce, detach, drop; and the errors.
mod common;

use common::*;
use mamlpp::{Group, Model, Status};

/// A TCP port nothing listens on now (the OS picks one for port 0).
fn free_port() -> i32 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    i32::from(l.local_addr().unwrap().port())
}

fn join_one() -> Group {
    Group::join("127.0.0.1", free_port(), 0, 1, None, 60.0).expect("join a world of one")
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn constants() {
    assert_eq!(mamlpp::GROUP_DEFAULT_TIMEOUT, 300.0);
    assert_eq!(mamlpp::sys::MAML_E_DISTRIBUTED, -9);
    assert_eq!(Status::Distributed.code(), -9);
    assert_send_sync::<Group>();
}

#[test]
fn world_of_one_join_attach_train_allreduce_detach() {
    let group = join_one();
    assert_eq!((group.rank(), group.world_size(), group.local_rank()), (0, 1, 0));
    assert!(!group.as_ptr().is_null());
    assert!(format!("{group:?}").contains("world_size: 1"));

    let mut m = Model::new(&small_config()).unwrap();
    m.attach(&group).unwrap();
    let r = m.meta_train_step(&Batch::new(1, 2).tasks()).unwrap();
    assert_eq!(r.step, 1);
    assert!(r.loss.is_finite());

    // A world of one: the sums over ranks are the values themselves.
    let mut values = [1.5, -2.0, 3.25, 1e300];
    group.allreduce_sum(&mut values).unwrap();
    assert_eq!(values, [1.5, -2.0, 3.25, 1e300]);

    m.detach().unwrap();
    m.detach().unwrap(); // not attached: not an error
    assert_eq!(m.meta_train_step(&Batch::new(2, 1).tasks()).unwrap().step, 2);
    drop(group);
    assert_eq!(m.step().unwrap(), 2);
}

#[test]
fn local_rank_and_the_model_keeps_the_membership() {
    let mut m = Model::new(&small_config()).unwrap();
    {
        let group = Group::join("127.0.0.1", free_port(), 0, 1, Some(3), 60.0).unwrap();
        assert_eq!(group.local_rank(), 3);
        m.attach(&group).unwrap();
    } // the handle is dropped; the attached model keeps the membership
    assert_eq!(m.meta_train_step(&Batch::new(3, 1).tasks()).unwrap().step, 1);
    m.detach().unwrap();
}

#[test]
fn attached_step_equals_a_local_step() {
    let group = join_one();
    let mut local = Model::new(&small_config()).unwrap();
    let mut attached = Model::new(&small_config()).unwrap();
    attached.attach(&group).unwrap();
    for seed in [4, 5] {
        let a = local.meta_train_step(&Batch::new(seed, 2).tasks()).unwrap();
        let b = attached.meta_train_step(&Batch::new(seed, 2).tasks()).unwrap();
        assert!(
            (a.loss - b.loss).abs() <= 1e-5 * a.loss.abs().max(1.0),
            "{} vs {}",
            a.loss,
            b.loss
        );
    }
    let (a, b) = (local.inner_lrs().unwrap(), attached.inner_lrs().unwrap());
    assert_eq!(a.names, b.names);
    for (x, y) in a.rates.iter().zip(&b.rates) {
        assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
    }
}

#[test]
fn join_errors_name_the_value() {
    let port = free_port();
    for (addr, port, rank, world, local, timeout, needle) in [
        ("127.0.0.1", port, 1, 1, None, 60.0, "rank 1"),
        ("127.0.0.1", port, -1, 1, None, 60.0, "rank"),
        ("127.0.0.1", port, 0, 0, None, 60.0, "world"),
        ("127.0.0.1", 0, 0, 1, None, 60.0, "port"),
        ("127.0.0.1", 70000, 0, 1, None, 60.0, "port"),
        ("127.0.0.1", port, 0, 1, Some(-2), 60.0, "local rank"),
        ("127.0.0.1", port, 0, 1, None, 0.01, "timeout"),
        ("127.0.0.1", port, 0, 1, None, -1.0, "timeout"),
        ("127.0.0.1\0x", port, 0, 1, None, 60.0, "NUL byte"), // refused before the C call
    ] {
        let e = Group::join(addr, port, rank, world, local, timeout).unwrap_err();
        assert_eq!(e.status, Status::InvalidArgument, "{e}");
        assert!(e.message.contains(needle), "{needle:?} not in {:?}", e.message);
    }
}

#[test]
fn allreduce_of_nothing_is_refused_and_the_group_goes_on() {
    let group = join_one();
    let e = group.allreduce_sum(&mut []).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument, "{e}");
    assert!(e.message.contains("count"), "{}", e.message);
    let mut v = vec![2.0];
    group.allreduce_sum(&mut v).unwrap();
    assert_eq!(v, [2.0]);
}

#[test]
fn groups_from_several_threads() {
    // Send + Sync: one group shared by threads (the library serialises the collectives; in a world
    // of one any order matches), and a group moved into another thread and dropped there.
    let group = join_one();
    std::thread::scope(|s| {
        for i in 0..3 {
            let g = &group;
            s.spawn(move || {
                let mut v = [i as f64, 1.0];
                g.allreduce_sum(&mut v).unwrap();
                assert_eq!(v, [i as f64, 1.0]);
            });
        }
    });
    let moved = join_one();
    std::thread::spawn(move || assert_eq!(moved.world_size(), 1)).join().unwrap();
}
