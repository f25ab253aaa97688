//! The 1.3 additions through the safe API: the MLP backbone and regression (the new `Config`
//! fields, `Tasks` targets, `Model::adapt_regression`, `Learner::predict_values`), against the
//! linked libmamlpp (CPU, tiny models).
mod common;

use common::*;
use mamlpp::{
    sys, Activation, Backbone, Config, DeviceType, Model, Status, TaskBatching, TaskKind, Tasks,
};

const K: usize = 5; // support examples per task
const Q: usize = 6; // query examples per task

/// A tiny MLP regression model: 1 input feature, hidden layers 8 and 8, 1 output.
fn mlp_config() -> Config {
    Config {
        backbone: Backbone::Mlp,
        input_features: 1,
        hidden_layers: 2,
        hidden_sizes: [8, 8, 0, 0, 0, 0, 0, 0],
        activation: Activation::Relu,
        task_kind: TaskKind::Regression,
        n_outputs: 1,
        batch_norm: false,
        inner_steps: 1,
        eval_inner_steps: 2,
        device_type: DeviceType::Cpu,
        num_threads: 1,
        task_batching: TaskBatching::Loop,
        seed: 11,
        ..Config::default()
    }
}

/// `num_tasks` sinusoid tasks of `size` points: inputs in [-5, 5] (`features` per example, the
/// first one used), targets `A sin(x + phase) + k` for output k.
fn sinusoids(
    rng: &mut Rng,
    num_tasks: usize,
    size: usize,
    features: usize,
    outputs: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (mut x, mut t) = (vec![], vec![]);
    for _ in 0..num_tasks {
        let amp = 0.1 + 4.9 * rng.next_f32();
        let phase = std::f32::consts::PI * rng.next_f32();
        for _ in 0..size {
            let first = x.len();
            for _ in 0..features {
                x.push(10.0 * rng.next_f32() - 5.0);
            }
            for k in 0..outputs {
                t.push(amp * (x[first] + phase).sin() + k as f32);
            }
        }
    }
    (x, t)
}

#[test]
fn new_fields_have_the_library_defaults() {
    let c = Config::default();
    assert_eq!(c.backbone, Backbone::Conv);
    assert_eq!((c.input_features, c.hidden_layers), (1, 2));
    assert_eq!(c.hidden_sizes, [40, 40, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.activation, Activation::LeakyRelu);
    assert_eq!((c.task_kind, c.n_outputs, c.batch_norm), (TaskKind::Classification, 1, true));
    assert_eq!(c.example_len(), 28 * 28);
    assert_eq!(c.output_len(), 5);
    let raw = c.to_raw();
    assert_eq!(raw.struct_size, 208);
    assert_eq!(raw.reserved3, 0);
    assert_eq!(Config::from_raw(&raw).unwrap(), c);
    for bad in [
        sys::maml_config { backbone: 9, ..raw },
        sys::maml_config { activation: 9, ..raw },
        sys::maml_config { task_kind: 9, ..raw },
    ] {
        assert_eq!(Config::from_raw(&bad).unwrap_err().status, Status::Unsupported);
    }
    let mlp = mlp_config();
    assert_eq!((mlp.example_len(), mlp.output_len()), (1, 1));
}

#[test]
fn new_fields_round_trip_through_the_library() {
    // Every 1.3 field lies past the 1.2 struct: it comes back only if the whole mirror reaches
    // maml_create and returns from maml_get_config.
    let cfg = Config {
        input_features: 3,
        hidden_layers: 3,
        hidden_sizes: [8, 6, 4, 0, 0, 0, 0, 0],
        n_outputs: 2,
        batch_norm: true,
        ..mlp_config()
    };
    let m = Model::new(&cfg).unwrap();
    assert_eq!(m.config().unwrap(), cfg);
    assert!(m.is_regression());
    assert_eq!((m.example_len(), m.n_outputs()), (3, 2));
    // A conv classifier carries the new switches too.
    let conv = Config { activation: Activation::Relu, batch_norm: false, ..small_config() };
    let c = Model::new(&conv).unwrap();
    assert_eq!(c.config().unwrap(), conv);
    assert!(!c.is_regression());
    assert_eq!(c.example_len(), EX);
    // The library validates: a hidden layer of 0 units is refused, naming the field.
    let bad = Config { hidden_layers: 3, ..mlp_config() };
    let e = Model::new(&bad).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("hidden_sizes"), "{}", e.message);
    let e = Model::new(&Config { n_outputs: 0, ..mlp_config() }).unwrap_err();
    assert!(e.message.contains("n_outputs"), "{}", e.message);
}

#[test]
fn meta_train_adapt_and_predict_values() {
    let mut rng = Rng::new(1);
    let mut m = Model::new(&mlp_config()).unwrap();
    let (sx, st) = sinusoids(&mut rng, 3, K, 1, 1);
    let (qx, qt) = sinusoids(&mut rng, 3, Q, 1, 1);
    let tasks = Tasks::regression(3, K, Q, &sx, &st, &qx, &qt);
    for step in 1..=3 {
        let r = m.meta_train_step(&tasks).unwrap();
        assert_eq!(r.step, step);
        assert!(r.loss.is_finite());
        assert!(r.accuracy.is_nan(), "accuracy is not applicable to regression");
    }
    let e = m.evaluate(&tasks).unwrap();
    assert!(e.loss.is_finite() && e.accuracy.is_nan());
    assert_eq!(m.step().unwrap(), 3);

    let learner = m.adapt_regression(&sx[..K], &st[..K]).unwrap();
    assert_eq!(learner.n_way(), 1); // the row width: n_outputs
    let values = learner.predict_values(&qx[..Q]).unwrap();
    assert_eq!(values.len(), Q);
    assert!(values.iter().all(|v| v.is_finite()));
    // A regression learner has no labels: predict is the library's refusal.
    let e = learner.predict(&qx[..Q]).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("labels"), "{}", e.message);
    // Slice lengths are checked before the call.
    assert_eq!(
        m.adapt_regression(&sx[..K - 1], &st[..K]).unwrap_err().status,
        Status::InvalidArgument
    );

    // adapt_tasks with targets gives the same learners as adapt_regression, task by task.
    let many = m.adapt_tasks(&Tasks::support_only_regression(3, K, &sx, &st)).unwrap();
    for (i, l) in many.iter().enumerate() {
        let single = m.adapt_regression(&sx[i * K..(i + 1) * K], &st[i * K..(i + 1) * K]).unwrap();
        let (a, b) = (l.predict_values(&qx).unwrap(), single.predict_values(&qx).unwrap());
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-5, "{u} vs {v}");
        }
    }

    // Saved and loaded back, the model predicts identically.
    let back = Model::from_bytes_on(&m.to_bytes().unwrap(), DeviceType::Cpu, 0).unwrap();
    assert_eq!(back.config().unwrap(), m.config().unwrap());
    let again = back.adapt_regression(&sx[..K], &st[..K]).unwrap();
    assert_eq!(again.predict_values(&qx[..Q]).unwrap(), values);
}

#[test]
fn several_outputs_and_features() {
    let mut rng = Rng::new(2);
    let mut m = Model::new(&Config { input_features: 2, n_outputs: 3, ..mlp_config() }).unwrap();
    let (sx, st) = sinusoids(&mut rng, 2, K, 2, 3);
    let (qx, qt) = sinusoids(&mut rng, 2, Q, 2, 3);
    assert!(m
        .meta_train_step(&Tasks::regression(2, K, Q, &sx, &st, &qx, &qt))
        .unwrap()
        .loss
        .is_finite());
    let l = m.adapt_regression(&sx[..K * 2], &st[..K * 3]).unwrap();
    assert_eq!(l.n_way(), 3);
    assert_eq!(l.predict_values(&qx[..Q * 2]).unwrap().len(), Q * 3);
    // Targets must be a whole number of 3-value rows; the examples must match their count.
    assert_eq!(
        m.adapt_regression(&sx[..K * 2], &st[..K * 3 - 1]).unwrap_err().status,
        Status::InvalidArgument
    );
    let short = Tasks::regression(2, K, Q, &sx, &st[1..], &qx, &qt);
    let e = m.meta_train_step(&short).unwrap_err();
    assert!(e.message.contains("support_t"), "{}", e.message);
    assert_eq!(m.step().unwrap(), 1);
}

#[test]
fn regression_refuses_labels() {
    let mut rng = Rng::new(3);
    let mut m = Model::new(&mlp_config()).unwrap();
    let (sx, _) = sinusoids(&mut rng, 1, K, 1, 1);
    let (qx, _) = sinusoids(&mut rng, 1, Q, 1, 1);
    let (sy, qy) = (vec![0i32; K], vec![0i32; Q]);
    let e = m.meta_train_step(&Tasks::classification(1, K, Q, &sx, &sy, &qx, &qy)).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("regression"), "{}", e.message);
    let e = m.adapt(&sx, &sy).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("regression"), "{}", e.message);
    assert_eq!(m.step().unwrap(), 0);
}

#[test]
fn classifier_refuses_targets() {
    let mut m = Model::new(&small_config()).unwrap();
    let b = Batch::new(4, 1);
    let (st, qt) = (vec![0.5f32; b.support_size], vec![0.5f32; b.query_size]);
    let tasks = Tasks::regression(1, b.support_size, b.query_size, &b.sx, &st, &b.qx, &qt);
    let e = m.meta_train_step(&tasks).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("classifier"), "{}", e.message);
    let e = m.adapt_regression(&b.sx, &st).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("classifier"), "{}", e.message);
    assert_eq!(m.step().unwrap(), 0);
}
