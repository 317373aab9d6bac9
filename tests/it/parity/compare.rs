//! Comparing codex-serve's checks with the CLI's, and the differences kept on purpose.
//!
//! `reference/PARITY.md` lists those in a fenced block tagged `parity`, one per line:
//! `SCENARIO CHECK: reason`, where SCENARIO is a scenario's name or `*`, and CHECK is a check's name
//! (see `forms.rs`), or a prefix of names ending in `*`. Every listed difference must still occur
//! somewhere, so the list stays short and true.

use std::collections::BTreeSet;

use super::forms::Checks;

/// One intended difference.
#[derive(Debug)]
pub struct Allowance {
    pub scenario: String,
    pub check: String,
    pub reason: String,
    pub line: usize,
}

impl Allowance {
    fn matches(&self, scenario: &str, check: &str) -> bool {
        let scenario_ok = self.scenario == "*" || self.scenario == scenario;
        let check_ok = match self.check.strip_suffix('*') {
            Some(prefix) => check.starts_with(prefix),
            None => self.check == check,
        };
        scenario_ok && check_ok
    }
}

/// The allowances of `PARITY.md`'s `parity` blocks; a malformed line is an error naming it.
pub fn parse_allowances(text: &str) -> Result<Vec<Allowance>, String> {
    let mut out = Vec::new();
    let mut inside = false;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            inside = !inside && trimmed.trim_start_matches('`').trim() == "parity";
            continue;
        }
        if !inside || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let bad = || {
            format!("reference/PARITY.md line {line_no}: expected `SCENARIO CHECK: reason`, got {trimmed:?}")
        };
        let (scenario, rest) = trimmed.split_once(' ').ok_or_else(bad)?;
        let (check, reason) = rest.split_once(": ").ok_or_else(bad)?;
        if reason.trim().is_empty() {
            return Err(bad());
        }
        out.push(Allowance {
            scenario: scenario.to_owned(),
            check: check.trim().to_owned(),
            reason: reason.trim().to_owned(),
            line: line_no,
        });
    }
    Ok(out)
}

/// One difference between what the CLI sent and what codex-serve sent.
#[derive(Debug, Clone)]
pub struct Difference {
    pub scenario: String,
    pub check: String,
    pub cli: Option<BTreeSet<String>>,
    pub serve: Option<BTreeSet<String>>,
}

impl Difference {
    pub fn describe(&self) -> String {
        let show = |forms: &Option<BTreeSet<String>>| match forms {
            None => "(not sent)".to_owned(),
            Some(f) => f.iter().cloned().collect::<Vec<_>>().join("  |  "),
        };
        format!(
            "[{}] {}\n      codex CLI:   {}\n      codex-serve: {}",
            self.scenario,
            self.check,
            show(&self.cli),
            show(&self.serve)
        )
    }
}

/// Whether a check the CLI has must also be there on codex-serve's side. Input items and tools depend
/// on what each was asked (the CLI's own prompt and tools, the client's): only the kinds codex-serve
/// does send are compared, with their ids and metadata.
fn required(check: &str, serve: &Checks) -> bool {
    for part in [" input-id ", " input-metadata "] {
        if let Some((kind, item)) = check.split_once(part) {
            return serve.contains_key(&format!("{kind} input {item}"));
        }
    }
    !(check.contains(" input ") || check.contains(" tool "))
}

/// The differences in one scenario: a check codex-serve sends that the CLI does not, a required one it
/// misses, or a form the CLI never used.
pub fn differences(scenario: &str, cli: &Checks, serve: &Checks) -> Vec<Difference> {
    let mut out = Vec::new();
    let kinds_sent: BTreeSet<&str> = serve.keys().filter_map(|k| k.split(' ').next()).collect();
    let names: BTreeSet<&String> = cli.keys().chain(serve.keys()).collect();
    for name in names {
        let (c, s) = (cli.get(name), serve.get(name));
        let kind = name.split(' ').next().unwrap_or("");
        let differs = match (c, s) {
            // Key lists: codex-serve's keys must be ones the CLI sends, in the CLI's order. A key it
            // leaves out shows as that key's own check.
            (Some(c), Some(s)) if name.ends_with(" keys") => {
                !s.iter().all(|s| c.iter().any(|c| keys_compatible(c, s)))
            }
            (Some(c), Some(s)) => !s.is_subset(c),
            (None, Some(_)) => true,
            // A kind codex-serve never sent shows once, as its path check, not as every header.
            (Some(_), None) => {
                required(name, serve) && (kinds_sent.contains(kind) || name.ends_with(" path"))
            }
            (None, None) => false,
        };
        if differs {
            out.push(Difference {
                scenario: scenario.to_owned(),
                check: name.clone(),
                cli: c.cloned(),
                serve: s.cloned(),
            });
        }
    }
    out
}

/// `serve` (comma-joined keys) holds only keys of `cli`, in the same relative order.
fn keys_compatible(cli: &str, serve: &str) -> bool {
    let cli: Vec<&str> = cli.split(',').collect();
    let mut last = None;
    for key in serve.split(',').filter(|k| !k.is_empty()) {
        match cli.iter().position(|c| *c == key) {
            Some(at) if last.is_none_or(|l| at > l) => last = Some(at),
            _ => return false,
        }
    }
    true
}

/// The differences no allowance covers, and the allowances that covered nothing.
pub fn judge<'a>(
    diffs: &[Difference],
    allowances: &'a [Allowance],
) -> (Vec<Difference>, Vec<&'a Allowance>) {
    let mut used = vec![false; allowances.len()];
    let mut unexplained = Vec::new();
    for d in diffs {
        let hit = allowances
            .iter()
            .position(|a| a.matches(&d.scenario, &d.check));
        match hit {
            Some(i) => {
                used[i] = true;
                // Every allowance that matches counts as used, not only the first.
                for (j, a) in allowances.iter().enumerate() {
                    if a.matches(&d.scenario, &d.check) {
                        used[j] = true;
                    }
                }
            }
            None => unexplained.push(d.clone()),
        }
    }
    let stale = allowances
        .iter()
        .zip(used)
        .filter_map(|(a, u)| (!u).then_some(a))
        .collect();
    (unexplained, stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(entries: &[(&str, &str)]) -> Checks {
        let mut out = Checks::new();
        for (name, form) in entries {
            out.entry((*name).to_owned())
                .or_default()
                .insert((*form).to_owned());
        }
        out
    }

    #[test]
    fn differences_need_a_listed_reason_and_every_reason_a_difference() {
        let text = "intro\n```parity\n# comment\n* responses header x-a*: a reason\n\
                    lite token path: why\nlite responses header gone: stale\n```\n\
                    ```parity\nbad line\n```\n";
        let err = parse_allowances(text).expect_err("a line without a reason");
        assert!(err.contains("line 9"), "{err}");
        let allowances = parse_allowances(&text.replace("bad line\n", "")).expect("valid");
        assert_eq!(allowances.len(), 3);

        let cli = checks(&[
            ("responses header x-a1", "1"),
            ("responses header v", "0.171.0"),
            ("responses body keys", "model,stream,input,tools"),
            ("responses input message/user", "{a}"),
            ("token path", "/oauth/token"),
        ]);
        let serve = checks(&[
            ("responses header v", "0.99.0"),
            ("responses header extra", "x"),
            ("responses body keys", "model,input,stream"),
        ]);
        let diffs = differences("lite", &cli, &serve);
        let names: Vec<&str> = diffs.iter().map(|d| d.check.as_str()).collect();
        // The input item the client did not send is no difference; the rest are.
        assert_eq!(
            names,
            [
                "responses body keys",
                "responses header extra",
                "responses header v",
                "responses header x-a1",
                "token path",
            ]
        );
        let (unexplained, stale) = judge(&diffs, &allowances);
        let left: Vec<&str> = unexplained.iter().map(|d| d.check.as_str()).collect();
        assert_eq!(
            left,
            [
                "responses body keys",
                "responses header extra",
                "responses header v"
            ]
        );
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].check, "responses header gone");
        assert!(keys_compatible("a,b,c", "a,c"));
        assert!(!keys_compatible("a,b,c", "c,a"));
        assert!(!keys_compatible("a,b,c", "a,d"));
    }
}
