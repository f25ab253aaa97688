//! End-to-end tests of the safe API against the linked libmamlpp (CPU, tiny models).
mod common;

use common::*;
use mamlpp::{BnStats, Config, DeviceType, Error, Learner, Model, Status, Tasks};
use std::path::PathBuf;

fn trained(steps: usize) -> Model {
    let mut m = Model::new(&small_config()).expect("create");
    for i in 0..steps {
        m.meta_train_step(&Batch::new(100 + i as u64, 4).tasks()).expect("train");
    }
    m
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mamlpp-rs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn versions() {
    assert_eq!(mamlpp::abi_version(), mamlpp::sys::MAMLPP_ABI_VERSION);
    assert!(mamlpp::ensure_abi().is_ok());
    assert_eq!(mamlpp::version().split('.').count(), 3);
    assert!(mamlpp::version_number() >= 10000);
    assert!(mamlpp::cuda_device_count() >= 0);
}

#[test]
fn cuda_memory_errors_and_counters() {
    assert_eq!(mamlpp::cuda_memory(-1, false).unwrap_err().status, Status::InvalidArgument);
    let e = mamlpp::cuda_memory(mamlpp::cuda_device_count(), false).unwrap_err();
    assert_eq!(e.status, Status::Device);
    assert!(e.message.contains("CUDA"), "{}", e.message);
    if mamlpp::cuda_device_count() > 0 {
        let (current, peak) = mamlpp::cuda_memory(0, true).unwrap();
        assert!(0 <= current && current <= peak);
        assert_eq!(mamlpp::cuda_memory(0, false).unwrap(), (current, current));
    }
}

#[test]
fn crate_version_is_the_headers() {
    // The crate mirrors one header: its version is the header's.
    assert_eq!(env!("CARGO_PKG_VERSION"), mamlpp::sys::MAMLPP_VERSION_STRING);
    let header = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../include/mamlpp/mamlpp.h"),
    )
    .expect("the header beside the crate");
    for (part, value) in [
        ("MAJOR", mamlpp::sys::MAMLPP_VERSION_MAJOR),
        ("MINOR", mamlpp::sys::MAMLPP_VERSION_MINOR),
        ("PATCH", mamlpp::sys::MAMLPP_VERSION_PATCH),
    ] {
        let line = format!("#define MAMLPP_VERSION_{part} {value}\n");
        assert!(header.contains(&line), "the header lacks {line:?}");
    }
}

#[test]
fn config_defaults_are_the_papers() {
    let c = Config::default();
    assert_eq!((c.n_way, c.image_channels, c.image_height, c.image_width), (5, 1, 28, 28));
    assert_eq!((c.num_stages, c.num_filters, c.inner_steps), (4, 64, 5));
    assert!(c.learn_inner_lr && c.per_step_bn && c.multi_step_loss && c.second_order && c.max_pool);
    assert_eq!(c.bn_stats, BnStats::Support);
    assert_eq!(c.device_type, DeviceType::Auto);
    assert!((c.inner_lr - 0.1).abs() < 1e-7);
    assert_eq!((c.grad_clip, c.grad_clip_lslr), (0.0, false));
    assert_eq!(c.adapt_last_layers, 0);
    assert_eq!(c.example_len(), 28 * 28);
    assert_eq!(Config::from_raw(&c.to_raw()).unwrap(), c);
    let mut raw = c.to_raw();
    assert_eq!(raw.struct_size as usize, std::mem::size_of::<mamlpp::sys::maml_config>());
    raw.bn_stats = 99;
    assert_eq!(Config::from_raw(&raw).unwrap_err().status, Status::Unsupported);
    // The exported maml_config_init is the 1.0 call: it fills the 1.0 prefix with the same
    // defaults and leaves the fields past it (grad_clip_lslr since 1.1, adapt_last_layers since
    // 1.2) alone.
    let mut old =
        mamlpp::sys::maml_config { grad_clip_lslr: 7, adapt_last_layers: 9, ..c.to_raw() };
    unsafe { mamlpp::sys::maml_config_init(&mut old) };
    assert_eq!((old.struct_size, old.grad_clip_lslr, old.adapt_last_layers), (136, 7, 9));
    let sized = mamlpp::sys::maml_config {
        struct_size: 136,
        grad_clip_lslr: 7,
        adapt_last_layers: 9,
        ..c.to_raw()
    };
    assert_eq!(old, sized);
    // to_raw and from_raw carry adapt_last_layers both ways.
    let anil = Config { adapt_last_layers: 2, ..c.clone() };
    assert_eq!(anil.to_raw().adapt_last_layers, 2);
    assert_eq!(Config::from_raw(&anil.to_raw()).unwrap(), anil);
}

#[test]
fn grad_clip_lslr_round_trips() {
    // grad_clip_lslr lies past the 1.0 struct: it comes back only if the whole mirror reaches the
    // library and returns from it.
    for lslr in [false, true] {
        let cfg = Config { grad_clip: 10.0, grad_clip_lslr: lslr, ..small_config() };
        let mut m = Model::new(&cfg).unwrap();
        assert_eq!(m.config().unwrap(), cfg);
        assert!(m.meta_train_step(&Batch::new(5, 2).tasks()).unwrap().loss.is_finite());
    }
}

#[test]
fn adapt_last_layers_round_trips() {
    // ANIL (since 1.2), in the last slot of the struct (1.1's reserved2): every value in
    // 0..=num_stages + 1 reaches the library and comes back, and the model trains and adapts.
    let stages = small_config().num_stages;
    for k in [0, 1, stages + 1] {
        let cfg = Config { adapt_last_layers: k, ..small_config() };
        let mut m = Model::new(&cfg).unwrap();
        assert_eq!(m.config().unwrap(), cfg);
        assert_eq!(m.config().unwrap().adapt_last_layers, k);
        let b = Batch::new(11, 2);
        assert!(m.meta_train_step(&b.tasks()).unwrap().loss.is_finite());
        let (sx, sy) = b.support(0);
        let p = m.adapt(sx, sy).unwrap().predict(b.query_x(0)).unwrap();
        assert_eq!(p.labels.len(), b.query_size);
    }
    // Head only: the inner-rate table has rows for the head's weight and bias alone.
    let head = Model::new(&Config { adapt_last_layers: 1, ..small_config() }).unwrap();
    let lrs = head.inner_lrs().unwrap();
    let mut names = lrs.names.clone();
    names.sort();
    assert_eq!(names, ["backbone.head.bias", "backbone.head.weight"]);
    assert_eq!(lrs.num_steps, 2);
    assert_eq!(lrs.rates.len(), 4);
    // Out of range: refused by the library, which names the field.
    for bad in [-1, stages + 2] {
        let e = Model::new(&Config { adapt_last_layers: bad, ..small_config() }).unwrap_err();
        assert_eq!(e.status, Status::InvalidArgument, "{e}");
        assert!(e.message.contains("adapt_last_layers"), "{e}");
    }
}

#[test]
fn set_cuda_deterministic_is_callable_and_cpu_training_goes_on() {
    // Process-wide, never fails, no effect on CPU models. Left at the default afterwards.
    for deterministic in [false, true] {
        mamlpp::set_cuda_deterministic(deterministic);
        let mut m = Model::new(&small_config()).unwrap();
        assert!(m.meta_train_step(&Batch::new(3, 2).tasks()).unwrap().loss.is_finite());
    }
}

#[test]
fn create_and_query() {
    let m = Model::new(&small_config()).unwrap();
    assert_eq!(m.step().unwrap(), 0);
    assert_eq!(m.device().unwrap(), (DeviceType::Cpu, 0));
    assert!(m.num_parameters().unwrap() > 0);
    assert_eq!(m.n_way(), N_WAY);
    assert_eq!(m.example_len(), EX);
    let c = m.config().unwrap();
    assert_eq!(c.n_way, 3);
    assert_eq!(c.num_filters, 8);
    assert_eq!(c.seed, 7);
    assert!(format!("{m:?}").contains("n_way"));
}

#[test]
fn meta_train_and_evaluate() {
    let mut m = Model::new(&small_config()).unwrap();
    let mut last = None;
    for i in 0..4 {
        let r = m.meta_train_step(&Batch::new(i, 4).tasks()).unwrap();
        assert_eq!(r.step, i as i64 + 1);
        assert!(r.loss.is_finite() && r.loss > 0.0);
        assert!((0.0..=1.0).contains(&r.accuracy));
        assert!(r.meta_lr > 0.0);
        last = Some(r);
    }
    assert_eq!(m.step().unwrap(), 4);
    assert!(last.unwrap().second_order); // first_order_epochs = 0
    let e = m.evaluate(&Batch::new(99, 2).tasks()).unwrap();
    assert!(e.loss.is_finite());
    assert_eq!(m.step().unwrap(), 4, "evaluate must not change the model");
}

#[test]
fn adapt_and_predict() {
    let m = trained(3);
    let b = Batch::new(5, 1);
    let (sx, sy) = b.support(0);
    let l = m.adapt(sx, sy).unwrap();
    assert_eq!(l.n_way(), N_WAY);
    let p = l.predict(b.query_x(0)).unwrap();
    assert_eq!(p.labels.len(), b.query_size);
    assert_eq!(p.logits.len(), b.query_size * N_WAY);
    for i in 0..p.labels.len() {
        let row = p.logits_of(i);
        let best = (0..N_WAY).max_by(|&a, &c| row[a].partial_cmp(&row[c]).unwrap()).unwrap();
        assert_eq!(p.labels[i], best as i32);
    }
    assert_eq!(l.predict_labels(b.query_x(0)).unwrap(), p.labels);
    // The synthetic tasks are easy: the adapted learner gets most of the query set right.
    let right = p.labels.iter().zip(&b.qy).filter(|(a, b)| a == b).count();
    assert!(right * 2 >= p.labels.len(), "{right}/{} right", p.labels.len());
}

#[test]
fn learner_outlives_model() {
    let b = Batch::new(6, 1);
    let (sx, sy) = b.support(0);
    let l: Learner = {
        let m = trained(1);
        m.adapt(sx, sy).unwrap()
    };
    assert_eq!(l.predict(b.query_x(0)).unwrap().labels.len(), b.query_size);
}

#[test]
fn adapt_tasks_matches_adapt() {
    let m = trained(2);
    let b = Batch::new(8, 3);
    let many = m.adapt_tasks(&Tasks::support_only(3, b.support_size, &b.sx, &b.sy)).unwrap();
    assert_eq!(many.len(), 3);
    for (t, l) in many.iter().enumerate() {
        let (sx, sy) = b.support(t);
        let one = m.adapt(sx, sy).unwrap().predict(b.query_x(t)).unwrap();
        let p = l.predict(b.query_x(t)).unwrap();
        assert_eq!(p.labels, one.labels);
        for (a, c) in p.logits.iter().zip(&one.logits) {
            assert!((a - c).abs() < 1e-4, "{a} vs {c}");
        }
    }
}

#[test]
fn save_and_load_file() {
    let m = trained(2);
    let path = temp_path("save.maml");
    m.save(&path).unwrap();
    let loaded = Model::load_on(&path, DeviceType::Cpu, 0).unwrap();
    assert_eq!(loaded.step().unwrap(), 2);
    assert_eq!(loaded.config().unwrap().num_filters, 8);
    assert_eq!(loaded.inner_lrs().unwrap(), m.inner_lrs().unwrap());

    let b = Batch::new(9, 1);
    let (sx, sy) = b.support(0);
    let a = m.adapt(sx, sy).unwrap().predict(b.query_x(0)).unwrap();
    let c = loaded.adapt(sx, sy).unwrap().predict(b.query_x(0)).unwrap();
    assert_eq!(a, c, "a loaded model adapts and predicts exactly as the saved one");

    // Training resumes from the file.
    let mut resumed = Model::load(&path).unwrap();
    resumed.meta_train_step(&Batch::new(10, 2).tasks()).unwrap();
    assert_eq!(resumed.step().unwrap(), 3);

    // Inference-only files are smaller and still adapt identically.
    let small = temp_path("small.maml");
    m.save_inference_only(&small).unwrap();
    assert!(std::fs::metadata(&small).unwrap().len() < std::fs::metadata(&path).unwrap().len());
    let inf = Model::load_on(&small, DeviceType::Cpu, 0).unwrap();
    assert_eq!(inf.adapt(sx, sy).unwrap().predict(b.query_x(0)).unwrap(), a);
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&small).unwrap();
}

#[test]
fn bytes_roundtrip() {
    let m = trained(1);
    let bytes = m.to_bytes().unwrap();
    let path = temp_path("bytes.maml");
    m.save(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "to_bytes is byte for byte the file");
    std::fs::remove_file(&path).unwrap();

    let back = Model::from_bytes_on(&bytes, DeviceType::Cpu, 0).unwrap();
    assert_eq!(back.step().unwrap(), 1);
    assert_eq!(back.to_bytes().unwrap(), bytes);
    let inf = m.to_bytes_inference_only().unwrap();
    assert!(inf.len() < bytes.len());
    assert!(Model::from_bytes(&inf).is_ok());

    // Truncated and corrupted buffers are refused, never crash.
    for bad in [&bytes[..bytes.len() / 2], &bytes[..7], &b"not a model file at all"[..]] {
        let e = Model::from_bytes(bad).unwrap_err();
        assert_eq!(e.status, Status::Format, "{e}");
    }
    // An empty buffer: the header does not say which; the library answers MAML_E_FORMAT.
    let e = Model::from_bytes(&[]).unwrap_err();
    assert!(matches!(e.status, Status::Format | Status::InvalidArgument), "{e}");
}

#[test]
fn errors_carry_status_and_message() {
    let mut bad = small_config();
    bad.n_way = 0;
    let e = Model::new(&bad).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(!e.message.is_empty());
    assert!(e.to_string().starts_with("MAML_E_INVALID_ARGUMENT: "), "{e}");
    let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
    assert_eq!(boxed.to_string(), e.to_string());

    let e = Model::load(temp_path("does-not-exist.maml")).unwrap_err();
    assert_eq!(e.status, Status::Io, "{e}");
    assert!(e.to_string().contains("MAML_E_IO"));

    let m = trained(0);
    let b = Batch::new(11, 1);
    let (sx, sy) = b.support(0);
    // Labels outside [0, n_way): refused by the library.
    let wrong: Vec<i32> = sy.iter().map(|&y| y + N_WAY as i32).collect();
    assert_eq!(m.adapt(sx, &wrong).unwrap_err().status, Status::InvalidArgument);
    // Slice lengths that disagree: refused by the binding before any C call.
    let e = m.adapt(&sx[1..], sy).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("support_x"), "{e}");
    assert_eq!(m.adapt(&[], &[]).unwrap_err().status, Status::InvalidArgument);
    // Non-finite inputs.
    let mut nan = sx.to_vec();
    nan[3] = f32::NAN;
    assert_eq!(m.adapt(&nan, sy).unwrap_err().status, Status::Numerical);
    let l = m.adapt(sx, sy).unwrap();
    assert_eq!(l.predict(&b.query_x(0)[1..]).unwrap_err().status, Status::InvalidArgument);
    let mut qnan = b.query_x(0).to_vec();
    qnan[0] = f32::INFINITY;
    assert_eq!(l.predict(&qnan).unwrap_err().status, Status::Numerical);
    // A path with a NUL byte.
    assert_eq!(m.save("a\0b").unwrap_err().status, Status::InvalidArgument);
    // Saving into a folder that does not exist.
    assert_eq!(m.save(temp_path("no/such/dir/x.maml")).unwrap_err().status, Status::Io);
}

#[test]
fn failed_training_changes_nothing() {
    let mut m = trained(1);
    let before = m.to_bytes().unwrap();
    let mut b = Batch::new(12, 2);
    b.qx[5] = f32::NAN;
    assert_eq!(m.meta_train_step(&b.tasks()).unwrap_err().status, Status::Numerical);
    b.qx[5] = 0.0;
    b.sy[0] = -1;
    assert_eq!(m.meta_train_step(&b.tasks()).unwrap_err().status, Status::InvalidArgument);
    let mut t = b.tasks();
    t.num_tasks = 3; // lengths no longer match
    assert_eq!(m.meta_train_step(&t).unwrap_err().status, Status::InvalidArgument);
    assert_eq!(m.step().unwrap(), 1);
    assert_eq!(m.to_bytes().unwrap(), before);
}

#[test]
fn inner_lrs_are_named_and_learned() {
    let fresh = Model::new(&small_config()).unwrap();
    let lrs = fresh.inner_lrs().unwrap();
    // Weights and biases of 2 convs and the head, 2 inner steps.
    assert_eq!(lrs.names.len(), 6);
    assert_eq!(lrs.num_steps, 2);
    assert!(lrs.names.iter().any(|n| n == "backbone.head.bias"), "{:?}", lrs.names);
    assert!(lrs.rates.iter().all(|&r| (r - 0.1).abs() < 1e-6));
    let trained = trained(3);
    let learned = trained.inner_lrs().unwrap();
    assert_eq!(learned.names, lrs.names);
    assert!(learned.rates.iter().any(|&r| (r - 0.1).abs() > 1e-6), "LSLR learns the rates");
    assert_eq!(learned.iter().count(), 6);
}

#[test]
fn status_codes_are_the_headers() {
    for code in -9..=-1 {
        let s = Status::from_code(code);
        assert_eq!(s.code(), code);
        assert!(s.name().starts_with("MAML_E_"), "{}", s.name());
    }
    assert_eq!(Status::from_code(-9), Status::Distributed);
    assert_eq!(Status::Distributed.name(), "MAML_E_DISTRIBUTED");
    assert_eq!(Status::from_code(-99), Status::Other(-99));
    let e = Error { status: Status::Device, message: String::new() };
    assert_eq!(e.to_string(), "MAML_E_DEVICE");
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn threads_adapt_on_one_model_and_predict_on_one_learner() {
    assert_send_sync::<Model>();
    assert_send_sync::<Learner>();
    let m = trained(2);
    let b = Batch::new(13, 4);
    let serial: Vec<_> = (0..4)
        .map(|t| {
            let (sx, sy) = b.support(t);
            m.adapt(sx, sy).unwrap().predict(b.query_x(t)).unwrap()
        })
        .collect();
    // adapt from 4 threads at once on one &Model (repeat to give races a chance).
    for _ in 0..3 {
        let parallel: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (m, b) = (&m, &b);
                    s.spawn(move || {
                        let (sx, sy) = b.support(t);
                        m.adapt(sx, sy).unwrap().predict(b.query_x(t)).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(parallel, serial);
    }
    // predict from 4 threads at once on one &Learner.
    let (sx, sy) = b.support(0);
    let l = m.adapt(sx, sy).unwrap();
    let expect: Vec<_> = (0..4).map(|t| l.predict(b.query_x(t)).unwrap()).collect();
    for _ in 0..3 {
        let got: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|t| {
                    let (l, b) = (&l, &b);
                    s.spawn(move || l.predict(b.query_x(t)).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(got, expect);
    }
    // A model moves to another thread for training (Send), and learners come back.
    let mut owned = m;
    let learner = std::thread::spawn(move || {
        owned.meta_train_step(&Batch::new(14, 2).tasks()).unwrap();
        let b = Batch::new(15, 1);
        let (sx, sy) = b.support(0);
        owned.adapt(sx, sy).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(learner.n_way(), N_WAY);
}

#[test]
fn error_messages_are_per_thread() {
    // A failure on one thread does not leak its message into another thread's error.
    let m = trained(0);
    std::thread::scope(|s| {
        let a = s.spawn(|| Model::load(temp_path("missing-a.maml")).unwrap_err());
        let b = s.spawn(|| m.adapt(&[0.0; EX], &[7]).unwrap_err());
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        assert_eq!(a.status, Status::Io);
        assert_eq!(b.status, Status::InvalidArgument);
        assert_ne!(a.message, b.message);
    });
}

#[test]
fn metadata_set_get_list_and_round_trips() {
    let mut m = Model::new(&small_config()).expect("create");
    assert_eq!(m.metadata_keys().unwrap(), Vec::<String>::new());
    assert_eq!(m.metadata("absent").unwrap(), None);
    let unicode = "Zo\u{eb} \u{2713} \u{1F600} tab\tnewline\n\"q\" \\";
    m.set_metadata("mamlpp.preprocessing", "{\"invert\":true}").unwrap();
    m.set_metadata("author", unicode).unwrap();
    m.set_metadata("empty", "").unwrap();
    let check = |m: &Model| {
        assert_eq!(m.metadata_keys().unwrap(), vec!["author", "empty", "mamlpp.preprocessing"]);
        assert_eq!(m.metadata("author").unwrap().as_deref(), Some(unicode));
        assert_eq!(m.metadata("empty").unwrap().as_deref(), Some(""));
        assert_eq!(m.metadata("absent").unwrap(), None);
    };
    check(&m);
    let path = temp_path("metadata.maml");
    m.save(&path).unwrap();
    check(&Model::load_on(&path, DeviceType::Cpu, 0).unwrap());
    m.save_inference_only(&path).unwrap();
    check(&Model::load_on(&path, DeviceType::Cpu, 0).unwrap());
    check(&Model::from_bytes_on(&m.to_bytes().unwrap(), DeviceType::Cpu, 0).unwrap());

    // Errors name the problem and change nothing.
    for (key, value, needle) in [
        ("", "v", "must not be empty"),
        ("a b", "v", "ASCII letters"),
        ("step", "v", "reserved"),
        ("libmamlpp.x", "v", "reserved"),
        ("author", "bell\u{7}", "control character"),
        ("author", "a\0b", "NUL byte"),
    ] {
        let e = m.set_metadata(key, value).unwrap_err();
        assert_eq!(e.status, Status::InvalidArgument, "{key}");
        assert!(e.message.contains(needle), "{}", e.message);
    }
    assert_eq!(m.metadata("config").unwrap_err().status, Status::InvalidArgument);
    check(&m);

    m.remove_metadata("empty").unwrap();
    m.remove_metadata("empty").unwrap();
    assert_eq!(m.metadata_keys().unwrap(), vec!["author", "mamlpp.preprocessing"]);
    let _ = std::fs::remove_file(&path);
}
