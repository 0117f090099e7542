//! `strata-crushtool`: crushtool's command line over the `crush` crate.
//!
//! Reads and writes maps in crushtool's text form; `--test` and `--compare`
//! print exactly what crushtool prints for the same map and flags.

mod args;
mod edit;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use crush::tester::{reweight_from_f32, TestSpec};
use crush::{text, CrushMap};

use args::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("strata-crushtool: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Reads a text map, with errors that name the file.
fn load(path: &str) -> Result<CrushMap, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if bytes.starts_with(&[0x00, 0x00, 0x01, 0x00]) || std::str::from_utf8(&bytes).is_err() {
        return Err(format!(
            "{path} is not a text CRUSH map (it looks binary); decompile it with `crushtool -d {path}` first"
        ));
    }
    let src = String::from_utf8(bytes).expect("checked above");
    text::parse(&src).map_err(|e| format!("{path}: {e}"))
}

fn write_out(path: &str, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {path}: {e}"))
}

fn run(a: &Args) -> Result<ExitCode, String> {
    if let Some(path) = &a.compile {
        let map = load(path)?;
        if let Some(out) = &a.output {
            write_out(out, &text::print(&map))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut map = match (&a.input, a.decompile.as_deref()) {
        (Some(p), _) => load(p)?,
        (None, Some(p)) if !p.is_empty() => load(p)?,
        _ => return Err("no map given: use -i MAP (or -c MAP / -d MAP); see --help".into()),
    };
    let tuned = apply_tunables(a, &mut map)?;
    let edited = edit::apply(a, &mut map)?;

    let stdout = io::stdout();
    let mut out = FmtIo::new(io::BufWriter::new(stdout.lock()));
    let mut err = String::new();
    let mut code = ExitCode::SUCCESS;
    let mut acted = edited || tuned;
    if a.decompile.is_some() {
        acted = true;
        match &a.output {
            Some(o) => write_out(o, &text::print(&map))?,
            None => fmt::Write::write_str(&mut out, &text::print(&map))
                .map_err(|_| "cannot write output")?,
        }
    } else if let (true, Some(o)) = (edited || tuned, &a.output) {
        write_out(o, &text::print(&map))?;
    }
    let spec = test_spec(a, &map)?;
    if a.test {
        acted = true;
        map.run_test(&spec, &mut out, &mut err)
            .map_err(|e| e.to_string())?;
    }
    if let Some(other) = &a.compare {
        acted = true;
        let other_map = load(other)?;
        if !map
            .compare(&other_map, &spec, &mut out, &mut err)
            .map_err(|e| e.to_string())?
        {
            code = ExitCode::FAILURE; // as crushtool: differing maps exit 1
        }
    }
    if (edited || tuned) && a.output.is_none() && a.decompile.is_none() {
        let _ = fmt::Write::write_str(
            &mut out,
            "crushtool successfully built or modified map.  Use '-o <file>' to write it out.\n",
        );
    }
    out.finish()
        .map_err(|e| format!("cannot write output: {e}"))?;
    eprint!("{err}");
    if !acted {
        return Err("nothing to do: give --test, --compare, -d, or an edit with -o".into());
    }
    Ok(code)
}

/// Applies tunable overrides; returns true if any was given.
fn apply_tunables(a: &Args, map: &mut CrushMap) -> Result<bool, String> {
    let mut tuned = false;
    if let Some(p) = &a.tunables_profile {
        tuned = true;
        let keep_algs = map.tunables.allowed_bucket_algs;
        map.tunables =
            crush::Tunables::profile(p).ok_or_else(|| format!("unknown tunables profile '{p}'"))?;
        map.tunables.allowed_bucket_algs = keep_algs.max(map.tunables.allowed_bucket_algs);
    }
    let t = &mut map.tunables;
    for (name, v) in [
        ("choose_local_tries", a.set_choose_local_tries),
        (
            "choose_local_fallback_tries",
            a.set_choose_local_fallback_tries,
        ),
        ("choose_total_tries", a.set_choose_total_tries),
        ("chooseleaf_descend_once", a.set_chooseleaf_descend_once),
        ("chooseleaf_vary_r", a.set_chooseleaf_vary_r),
        ("chooseleaf_stable", a.set_chooseleaf_stable),
        ("straw_calc_version", a.set_straw_calc_version),
    ] {
        if let Some(v) = v {
            t.set(name, v);
            tuned = true;
        }
    }
    Ok(tuned)
}

fn test_spec(a: &Args, map: &CrushMap) -> Result<TestSpec, String> {
    let mut spec = TestSpec {
        rule: a.rule,
        pool_id: a.pool_id,
        show_mappings: a.show_mappings,
        show_statistics: a.show_statistics,
        show_utilization: a.show_utilization,
        show_utilization_all: a.show_utilization_all,
        show_bad_mappings: a.show_bad_mappings,
        ..TestSpec::default()
    };
    spec.reps = match (a.num_rep, a.min_rep, a.max_rep) {
        (Some(n), _, _) => Some((n, n)),
        (None, Some(lo), Some(hi)) if lo <= hi => Some((lo, hi)),
        (None, Some(lo), Some(hi)) => {
            return Err(format!("--min-rep {lo} is above --max-rep {hi}"))
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            return Err("give both --min-rep and --max-rep, or --num-rep".into())
        }
        (None, None, None) => None,
    };
    // As in crushtool, both bounds default to -1 and either one negative
    // means the default range 0..1023, so --max-x alone has no effect.
    let (lo, hi) = match a.x {
        Some(x) => (x, x),
        None => (a.min_x.unwrap_or(-1), a.max_x.unwrap_or(-1)),
    };
    if lo >= 0 && hi >= 0 {
        spec.min_x = lo;
        spec.max_x = hi;
    } else {
        spec.min_x = 0;
        spec.max_x = 1023;
    }
    if spec.max_x == i32::MAX {
        return Err("--max-x must be below 2147483647".into());
    }
    for pair in a.weight.chunks(2) {
        let (dev, w) = (&pair[0], &pair[1]);
        let id = dev
            .parse::<i32>()
            .ok()
            .or_else(|| map.item_id(dev).filter(|i| *i >= 0))
            .ok_or_else(|| format!("--weight: '{dev}' is neither a device id nor a device name"))?;
        let w: f32 = w
            .parse()
            .map_err(|_| format!("--weight {dev}: '{w}' is not a number"))?;
        spec.weights.push((id, reweight_from_f32(w)));
    }
    Ok(spec)
}

/// Lets the library's `fmt::Write` output stream into a buffered writer,
/// remembering the first I/O error (a closed pipe ends the output quietly).
struct FmtIo<W: Write> {
    inner: W,
    error: Option<io::Error>,
}

impl<W: Write> FmtIo<W> {
    fn new(inner: W) -> Self {
        FmtIo { inner, error: None }
    }

    fn finish(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return if e.kind() == io::ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(e)
            };
        }
        match self.inner.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

impl<W: Write> fmt::Write for FmtIo<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.error.is_some() {
            return Err(fmt::Error);
        }
        self.inner.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}
