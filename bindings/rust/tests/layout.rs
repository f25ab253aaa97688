//! Checks the `#[repr(C)]` mirrors in `mamlpp::sys` against what a C compiler makes of the
//! header: the JSON written by `tests/bindings/layout/mamlpp_layout` (format in its README).
//! CTest sets `MAMLPP_LAYOUT_JSON` to that file; without it the test is skipped.
use std::mem::{align_of, size_of};

use mamlpp::sys;

/// A minimal JSON value and parser (no crates), enough for the layout file.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(kv) => {
                kv.iter().find(|(k, _)| k == key).map(|(_, v)| v).unwrap_or(&Json::Null)
            }
            _ => &Json::Null,
        }
    }
    fn num(&self) -> usize {
        match self {
            Json::Num(n) => *n as usize,
            other => panic!("expected a number, got {other:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("expected a string, got {other:?}"),
        }
    }
    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("expected an array, got {other:?}"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(
            self.s.get(self.i),
            Some(&c),
            "JSON: expected '{}' at byte {}",
            c as char,
            self.i
        );
        self.i += 1;
    }
    fn peek(&mut self) -> u8 {
        self.ws();
        *self.s.get(self.i).expect("JSON: unexpected end")
    }
    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out = String::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return out,
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    out.push(match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'u' => {
                            let h = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            self.i += 4;
                            char::from_u32(u32::from_str_radix(h, 16).unwrap()).unwrap_or('?')
                        }
                        other => other as char,
                    })
                }
                _ => {
                    // Copy a whole UTF-8 sequence.
                    let start = self.i - 1;
                    while self.i < self.s.len() && (self.s[self.i] & 0xC0) == 0x80 {
                        self.i += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.s[start..self.i]).unwrap());
                }
            }
        }
    }
    fn value(&mut self) -> Json {
        match self.peek() {
            b'{' => {
                self.eat(b'{');
                let mut kv = vec![];
                if self.peek() == b'}' {
                    self.eat(b'}');
                    return Json::Obj(kv);
                }
                loop {
                    let k = self.string();
                    self.eat(b':');
                    kv.push((k, self.value()));
                    if self.peek() == b',' {
                        self.eat(b',');
                    } else {
                        self.eat(b'}');
                        return Json::Obj(kv);
                    }
                }
            }
            b'[' => {
                self.eat(b'[');
                let mut a = vec![];
                if self.peek() == b']' {
                    self.eat(b']');
                    return Json::Arr(a);
                }
                loop {
                    a.push(self.value());
                    if self.peek() == b',' {
                        self.eat(b',');
                    } else {
                        self.eat(b']');
                        return Json::Arr(a);
                    }
                }
            }
            b'"' => Json::Str(self.string()),
            b't' | b'f' | b'n' => {
                for (word, v) in
                    [("true", Json::Bool(true)), ("false", Json::Bool(false)), ("null", Json::Null)]
                {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return v;
                    }
                }
                panic!("JSON: bad literal at byte {}", self.i)
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-0123456789.eE".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                Json::Num(
                    std::str::from_utf8(&self.s[start..self.i])
                        .unwrap()
                        .parse()
                        .expect("JSON number"),
                )
            }
        }
    }
}

fn parse(text: &str) -> Json {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    let v = p.value();
    p.ws();
    assert_eq!(p.i, text.len(), "JSON: trailing bytes");
    v
}

fn field_size<S, F>(_: fn(&S) -> &F) -> usize {
    size_of::<F>()
}

/// The byte offset of a field (std's `offset_of!` needs Rust 1.77; Debian 12 ships 1.63).
macro_rules! field_offset {
    ($s:ty, $f:ident) => {{
        let u = std::mem::MaybeUninit::<$s>::uninit();
        let base = u.as_ptr();
        // SAFETY: addr_of! computes the address without reading the uninitialised field.
        let field = unsafe { std::ptr::addr_of!((*base).$f) };
        field as *const u8 as usize - base as *const u8 as usize
    }};
}

/// (name, offset, size) of every field of a Rust mirror.
macro_rules! fields {
    ($s:ty; $($f:ident),+ $(,)?) => {
        vec![$((stringify!($f), field_offset!($s, $f), field_size(|x: &$s| &x.$f))),+]
    };
}

struct Mirror {
    name: &'static str,
    size: usize,
    align: usize,
    fields: Vec<(&'static str, usize, usize)>,
}

fn mirrors() -> Vec<Mirror> {
    vec![
        Mirror {
            name: "maml_config",
            size: size_of::<sys::maml_config>(),
            align: align_of::<sys::maml_config>(),
            fields: fields!(sys::maml_config; struct_size, n_way, image_channels, image_height,
                image_width, num_stages, num_filters, max_pool, inner_steps, eval_inner_steps,
                inner_lr, learn_inner_lr, per_step_bn, bn_stats, multi_step_loss, msl_epochs,
                second_order, first_order_epochs, meta_lr, meta_lr_min, adam_beta1, adam_beta2,
                grad_clip, epochs, iters_per_epoch, device_type, device_index, reserved0, seed,
                task_batching, num_threads, dtype, reserved1, grad_clip_lslr, adapt_last_layers,
                backbone, input_features, hidden_layers, hidden_sizes, activation, task_kind,
                n_outputs, batch_norm, reserved3),
        },
        Mirror {
            name: "maml_tasks",
            size: size_of::<sys::maml_tasks>(),
            align: align_of::<sys::maml_tasks>(),
            fields: fields!(sys::maml_tasks; struct_size, num_tasks, support_size, query_size,
                support_x, support_y, query_x, query_y, support_t, query_t),
        },
        Mirror {
            name: "maml_metrics",
            size: size_of::<sys::maml_metrics>(),
            align: align_of::<sys::maml_metrics>(),
            fields: fields!(sys::maml_metrics; struct_size, loss, accuracy, meta_lr, second_order,
                reserved0, step, epoch),
        },
    ]
}

fn check_against(json: &Json) -> Vec<String> {
    let mut problems = vec![];
    assert_eq!(json.get("format").num(), 1, "unknown layout JSON format");
    if json.get("abi_version").num() as i32 != sys::MAMLPP_ABI_VERSION {
        problems.push(format!(
            "header ABI {} vs sys.rs ABI {}",
            json.get("abi_version").num(),
            sys::MAMLPP_ABI_VERSION
        ));
    }
    if json.get("pointer_size").num() != size_of::<*const u8>() {
        problems.push("pointer size differs".into());
    }
    let structs = json.get("structs");
    let all = match structs {
        Json::Obj(all) => all,
        _ => panic!("no structs in the layout JSON"),
    };
    let ours = mirrors();
    for (name, _) in all {
        if !ours.iter().any(|m| m.name == name) {
            problems.push(format!("{name}: public struct of the header not mirrored in sys.rs"));
        }
    }
    for m in &ours {
        let c = structs.get(m.name);
        if c == &Json::Null {
            problems.push(format!("{}: not in the header's layout", m.name));
            continue;
        }
        if c.get("size").num() != m.size {
            problems.push(format!(
                "{}: sizeof C {} vs Rust {}",
                m.name,
                c.get("size").num(),
                m.size
            ));
        }
        if c.get("align").num() != m.align {
            problems.push(format!(
                "{}: alignof C {} vs Rust {}",
                m.name,
                c.get("align").num(),
                m.align
            ));
        }
        let cf = c.get("fields").arr();
        for f in cf {
            let name = f.get("name").str();
            match m.fields.iter().find(|(n, _, _)| *n == name) {
                None => {
                    problems.push(format!("{}.{name}: in the header, missing in sys.rs", m.name))
                }
                Some(&(_, off, size)) => {
                    if f.get("offset").num() != off || f.get("size").num() != size {
                        problems.push(format!(
                            "{}.{name}: C offset {} size {} vs Rust offset {off} size {size}",
                            m.name,
                            f.get("offset").num(),
                            f.get("size").num()
                        ));
                    }
                }
            }
        }
        for (name, _, _) in &m.fields {
            if !cf.iter().any(|f| f.get("name").str() == *name) {
                problems.push(format!("{}.{name}: in sys.rs, not in the header", m.name));
            }
        }
    }
    problems
}

#[test]
fn json_parser() {
    let v = parse(r#"{"a": [1, 2.5e1, -3], "b": {"c": "x\"y\u0041"}, "d": true, "e": null}"#);
    assert_eq!(v.get("a").arr().len(), 3);
    assert_eq!(v.get("a").arr()[1], Json::Num(25.0));
    assert_eq!(v.get("b").get("c").str(), "x\"yA");
    assert_eq!(v.get("d"), &Json::Bool(true));
}

#[test]
fn mirrors_match_the_c_layout() {
    let path = match std::env::var_os("MAMLPP_LAYOUT_JSON").filter(|p| !p.is_empty()) {
        Some(path) => path,
        None => {
            eprintln!("MAMLPP_LAYOUT_JSON unset: layout check skipped (CTest sets it)");
            return;
        }
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {path:?} ({e}); build the mamlpp_layout target first")
    });
    let problems = check_against(&parse(&text));
    assert!(problems.is_empty(), "sys.rs disagrees with mamlpp.h:\n  {}", problems.join("\n  "));
}

#[test]
fn the_check_catches_a_wrong_offset() {
    // A layout that disagrees with ours must be reported (guards the check itself).
    let mut text = String::from(
        r#"{"format": 1, "abi_version": 1, "pointer_size": 8, "structs": {"maml_metrics": {"size": 40, "align": 8, "fields": ["#,
    );
    text.push_str(r#"{"name": "struct_size", "offset": 0, "size": 4}, {"name": "loss", "offset": 8, "size": 4}]}}}"#);
    let problems = check_against(&parse(&text));
    assert!(problems.iter().any(|p| p.contains("maml_metrics.loss")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("maml_config: not in")), "{problems:?}");
}

#[test]
fn the_check_catches_a_wrong_array_size() {
    // hidden_sizes is int32_t[8] (32 bytes): a layout listing one int32_t there disagrees.
    let ours = mirrors();
    let config = ours.iter().find(|m| m.name == "maml_config").unwrap();
    let &(_, off, size) = config.fields.iter().find(|(n, _, _)| *n == "hidden_sizes").unwrap();
    assert_eq!(size, 32);
    let fields: Vec<String> = config
        .fields
        .iter()
        .map(|&(n, o, s)| {
            let s = if n == "hidden_sizes" { 4 } else { s };
            format!(r#"{{"name": "{n}", "offset": {o}, "size": {s}}}"#)
        })
        .collect();
    let text = format!(
        r#"{{"format": 1, "abi_version": 1, "pointer_size": 8, "structs": {{"maml_config": {{"size": {}, "align": {}, "fields": [{}]}}}}}}"#,
        config.size,
        config.align,
        fields.join(", ")
    );
    let problems = check_against(&parse(&text));
    assert!(
        problems
            .iter()
            .any(|p| p.contains(&format!("maml_config.hidden_sizes: C offset {off} size 4"))),
        "{problems:?}"
    );
}

#[test]
fn sizes_are_the_1_3_structs() {
    // Independent of the JSON: the sizes the header documents (1.3: config 208, tasks 64 on a
    // 64-bit target; metrics frozen at 40).
    assert_eq!(size_of::<sys::maml_config>(), 208);
    assert_eq!(size_of::<sys::maml_metrics>(), 40);
    if size_of::<*const u8>() == 8 {
        assert_eq!(size_of::<sys::maml_tasks>(), 64);
    }
    assert_eq!(field_offset!(sys::maml_config, hidden_sizes), 156);
    assert_eq!(field_offset!(sys::maml_config, reserved3), 204);
}
