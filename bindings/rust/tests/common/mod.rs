//! Small, fast models and synthetic, learnable tasks shared by the integration tests.
#![allow(dead_code)]
use mamlpp::{Config, DeviceType};

pub const N_WAY: usize = 3;
pub const HW: usize = 8;
pub const EX: usize = HW * HW; // 1 channel

/// A tiny CPU model: 3-way, 1x8x8 images, 2 stages of 8 filters, 2 inner steps.
pub fn small_config() -> Config {
    Config {
        n_way: N_WAY as i32,
        image_channels: 1,
        image_height: HW as i32,
        image_width: HW as i32,
        num_stages: 2,
        num_filters: 8,
        inner_steps: 2,
        eval_inner_steps: 2,
        first_order_epochs: 0,
        epochs: 4,
        iters_per_epoch: 5,
        device_type: DeviceType::Cpu,
        num_threads: 1,
        seed: 7,
        ..Config::default()
    }
}

/// A deterministic generator (xorshift).
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// `n` examples of class `label`: a bright band in a class-dependent row range plus noise.
pub fn examples(rng: &mut Rng, labels: &[i32]) -> Vec<f32> {
    let mut x = Vec::with_capacity(labels.len() * EX);
    for &l in labels {
        for r in 0..HW {
            for _ in 0..HW {
                let on = r / 2 == l as usize % 4;
                x.push(if on { 1.0 } else { 0.0 } + 0.3 * rng.next_f32());
            }
        }
    }
    x
}

/// Labels 0,1,..,N-1 repeated `per_class` times.
pub fn labels(per_class: usize) -> Vec<i32> {
    (0..per_class).flat_map(|_| 0..N_WAY as i32).collect()
}

/// An owned meta-batch.
pub struct Batch {
    pub num_tasks: usize,
    pub support_size: usize,
    pub query_size: usize,
    pub sx: Vec<f32>,
    pub sy: Vec<i32>,
    pub qx: Vec<f32>,
    pub qy: Vec<i32>,
}

impl Batch {
    pub fn new(seed: u64, num_tasks: usize) -> Batch {
        let mut rng = Rng::new(seed);
        let (s, q) = (labels(1), labels(2));
        let (mut sx, mut sy, mut qx, mut qy) = (vec![], vec![], vec![], vec![]);
        for _ in 0..num_tasks {
            sx.extend(examples(&mut rng, &s));
            sy.extend(&s);
            qx.extend(examples(&mut rng, &q));
            qy.extend(&q);
        }
        Batch { num_tasks, support_size: s.len(), query_size: q.len(), sx, sy, qx, qy }
    }

    pub fn tasks(&self) -> mamlpp::Tasks<'_> {
        mamlpp::Tasks {
            num_tasks: self.num_tasks,
            support_size: self.support_size,
            query_size: self.query_size,
            support_x: &self.sx,
            support_y: &self.sy,
            query_x: &self.qx,
            query_y: &self.qy,
            ..Default::default()
        }
    }

    /// Support images / labels of task `t`.
    pub fn support(&self, t: usize) -> (&[f32], &[i32]) {
        let s = self.support_size;
        (&self.sx[t * s * EX..(t + 1) * s * EX], &self.sy[t * s..(t + 1) * s])
    }

    /// Query images of task `t`.
    pub fn query_x(&self, t: usize) -> &[f32] {
        let q = self.query_size;
        &self.qx[t * q * EX..(t + 1) * q * EX]
    }
}
