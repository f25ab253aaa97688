//! adapt_predict — load a meta-initialisation, adapt it to a task's 5 labelled examples, and
//! predict the task's other examples.
//!
//!   cargo run --offline -- <model.maml> <tasks.bin> [expected.txt]
//!
//! `tasks.bin` is the fixture format of tests/fixtures/README.md (`example_tasks.bin`): a header,
//! the support images and labels, the query images and their true labels. With `expected.txt`
//! (`example_expected.txt`, what the C ABI predicted) the program also checks that this binding
//! reproduces the C results, and exits with status 1 if not.
use std::error::Error;
use std::process::ExitCode;

use mamlpp::Model;

/// One task: support images and labels to adapt to, query images and their true labels.
struct Task {
    n_way: usize,
    example_len: usize,
    support_x: Vec<f32>,
    support_y: Vec<i32>,
    query_x: Vec<f32>,
    query_y: Vec<i32>,
}

/// Reads little-endian values from a byte slice.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err("tasks file is truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn count(&mut self) -> Result<usize, String> {
        usize::try_from(self.i32()?).map_err(|_| "negative size in tasks file".to_string())
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, String> {
        let b = self.take(n.checked_mul(4).ok_or("size overflow")?)?;
        Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
    }
    fn i32s(&mut self, n: usize) -> Result<Vec<i32>, String> {
        let b = self.take(n.checked_mul(4).ok_or("size overflow")?)?;
        Ok(b.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect())
    }
}

fn read_task(path: &str) -> Result<Task, Box<dyn Error>> {
    let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let mut r = Reader(&data);
    if r.take(8)? != b"MAMLTASK" {
        return Err(format!("{path}: not a MAMLTASK file").into());
    }
    let version = r.i32()?;
    if version != 1 {
        return Err(format!("{path}: format version {version}, expected 1").into());
    }
    let n_way = r.count()?;
    let example_len = r.count()? * r.count()? * r.count()?;
    let (n_support, n_query) = (r.count()?, r.count()?);
    let support_x = r.f32s(n_support * example_len)?;
    let support_y = r.i32s(n_support)?;
    let query_x = r.f32s(n_query * example_len)?;
    let query_y = r.i32s(n_query)?;
    if !r.0.is_empty() {
        return Err(format!("{path}: {} trailing bytes", r.0.len()).into());
    }
    Ok(Task { n_way, example_len, support_x, support_y, query_x, query_y })
}

/// `example_expected.txt`: per query, the true label, the predicted label and the logits.
fn read_expected(path: &str) -> Result<Vec<(i32, Vec<f32>)>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut rows = vec![];
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            return Err(format!("{path}: bad line {line:?}").into());
        }
        let logits = f[3..].iter().map(|s| s.parse::<f32>()).collect::<Result<Vec<_>, _>>()?;
        rows.push((f[2].parse()?, logits));
    }
    Ok(rows)
}

fn run(args: &[String]) -> Result<bool, Box<dyn Error>> {
    let task = read_task(&args[2])?;

    // Load the meta-initialisation (on a GPU if there is one) and adapt it to the support set.
    let model = Model::load(&args[1])?;
    let cfg = model.config()?;
    let device = match model.device()?.0 {
        mamlpp::DeviceType::Cuda => "CUDA",
        _ => "CPU",
    };
    println!(
        "model {} (libmamlpp {}): {}-way, {}x{}x{} images, {} meta-train steps, {}",
        args[1],
        mamlpp::version(),
        cfg.n_way,
        cfg.image_channels,
        cfg.image_height,
        cfg.image_width,
        model.step()?,
        device
    );
    if task.n_way != model.n_way() || task.example_len != model.example_len() {
        return Err("the task's image size or n_way does not match the model".into());
    }
    let learner = model.adapt(&task.support_x, &task.support_y)?;
    println!("adapted to {} labelled examples {:?}", task.support_y.len(), task.support_y);

    // Predict the queries.
    let pred = learner.predict(&task.query_x)?;
    println!("query  true  predicted  logits");
    let mut right = 0;
    for (i, (&truth, &label)) in task.query_y.iter().zip(&pred.labels).enumerate() {
        right += (truth == label) as usize;
        let logits: Vec<String> = pred.logits_of(i).iter().map(|v| format!("{v:9.4}")).collect();
        println!("{i:5}  {truth:4}  {label:9}  {}", logits.join(" "));
    }
    println!("accuracy {right}/{}", pred.labels.len());

    // Optionally: the C ABI's own results for the same model and task.
    let expected = match args.get(3) {
        Some(expected) => expected,
        None => return Ok(true),
    };
    let rows = read_expected(expected)?;
    let mut ok = rows.len() == pred.labels.len();
    for (i, (label, logits)) in rows.iter().enumerate().take(pred.labels.len()) {
        let same = *label == pred.labels[i]
            && logits.len() == pred.n_way
            && logits.iter().zip(pred.logits_of(i)).all(|(e, g)| {
                (e - g).abs() <= 1e-4 * e.abs().max(1.0) // exact on one machine; see the README
            });
        if !same {
            eprintln!("query {i}: expected {label} {logits:?}, got {:?}", pred.logits_of(i));
            ok = false;
        }
    }
    println!("{} {expected}", if ok { "matches" } else { "DIFFERS FROM" });
    Ok(ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 || args.len() > 4 {
        eprintln!("usage: {} <model.maml> <tasks.bin> [expected.txt]", args[0]);
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("adapt_predict: {e}");
            ExitCode::FAILURE
        }
    }
}
