//! Claude model names (what Claude Code and the Anthropic SDKs send) to Codex models.
//!
//! Rules are `FROM=TO`. `FROM` is a model name or a pattern where `*` matches any run of characters,
//! compared without regard to case; `TO` is a Codex model, optionally with an effort (`gpt-5.5:high`).
//! The first matching rule wins: the user's `--model-map` rules first, in the order given, then the
//! defaults. A name no rule matches is used as it is, so Codex model names work directly.

/// The built-in rules, after the user's: the largest Claude tiers to the largest Codex model, the
/// smallest to the small one, anything else Claude to the middle.
pub(crate) const DEFAULT_RULES: &[(&str, &str)] = &[
    ("claude-*opus*", "gpt-5.5"),
    ("claude-*mythos*", "gpt-5.5"),
    ("claude-*sonnet*", "gpt-6.1-terra"),
    ("claude-*haiku*", "gpt-5.6-luna"),
    ("claude-*", "gpt-6.1-terra"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) from: String,
    pub(crate) to: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ModelMap {
    rules: Vec<Rule>,
}

impl Default for ModelMap {
    fn default() -> Self {
        ModelMap::new(Vec::new())
    }
}

/// `FROM=TO`, both non-empty.
pub(crate) fn parse_rule(s: &str) -> Result<Rule, String> {
    let (from, to) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FROM=TO (e.g. 'claude-*-opus*=gpt-5.5'), got '{s}'"))?;
    let (from, to) = (from.trim(), to.trim());
    if from.is_empty() || to.is_empty() {
        return Err(format!("both sides of '{s}' must name a model"));
    }
    Ok(Rule {
        from: from.to_owned(),
        to: to.to_owned(),
    })
}

/// `*` matches any run of characters (none included); everything else matches itself, ignoring case.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative matching with one backtrack point: linear in practice, no recursion on hostile input.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl ModelMap {
    /// The user's rules, then the defaults.
    pub(crate) fn new(user: Vec<Rule>) -> Self {
        let defaults = DEFAULT_RULES.iter().map(|(from, to)| Rule {
            from: (*from).to_owned(),
            to: (*to).to_owned(),
        });
        ModelMap {
            rules: user.into_iter().chain(defaults).collect(),
        }
    }

    /// The Codex model for `model`: the first matching rule's, or `model` itself.
    pub(crate) fn map<'a>(&'a self, model: &'a str) -> &'a str {
        self.rules
            .iter()
            .find(|r| glob(&r.from, model))
            .map_or(model, |r| r.to.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("claude-*opus*", "claude-opus-4-5-20251101"));
        assert!(glob("claude-*opus*", "claude-3-opus-20240229"));
        assert!(glob("CLAUDE-*", "claude-x"));
        assert!(glob("a*b*c", "aXbYbc"));
        assert!(!glob("a*b*c", "aXbY"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
        assert!(glob("*", ""));
        assert!(!glob(&"a*".repeat(50), &"a".repeat(40)));
    }

    #[test]
    fn claude_code_2_1_names_map_to_current_models() {
        // The names Claude Code 2.1.332 (`@anthropic-ai/claude-code` on npm) picks by default and offers.
        let m = ModelMap::default();
        for (claude, codex) in [
            ("claude-opus-5-5", "gpt-5.5"),
            ("claude-opus-5", "gpt-5.5"),
            ("claude-mythos-5-2", "gpt-5.5"),
            ("claude-sonnet-5-5", "gpt-6.1-terra"),
            ("claude-sonnet-5", "gpt-6.1-terra"),
            ("claude-fable-5-2", "gpt-6.1-terra"),
            ("claude-haiku-5-5", "gpt-5.6-luna"),
            ("claude-haiku-4-5-20251001", "gpt-5.6-luna"),
            ("claude-opus-5-5[1m]", "gpt-5.5"),
        ] {
            assert_eq!(m.map(claude), codex, "{claude}");
        }
    }

    #[test]
    fn user_rules_come_first_and_unknown_names_pass_through() {
        let m = ModelMap::default();
        assert_eq!(m.map("claude-opus-4-5-20251101"), "gpt-5.5");
        assert_eq!(m.map("claude-sonnet-4-5"), "gpt-6.1-terra");
        assert_eq!(m.map("claude-3-5-haiku-20241022"), "gpt-5.6-luna");
        assert_eq!(m.map("claude-fable-5"), "gpt-6.1-terra");
        assert_eq!(m.map("gpt-6.2-sol"), "gpt-6.2-sol");
        let m = ModelMap::new(vec![
            parse_rule("claude-*sonnet*=gpt-6.2-sol:high").expect("rule"),
            parse_rule("claude-haiku-4-5 = gpt-5.6-luna").expect("rule"),
        ]);
        assert_eq!(m.map("claude-sonnet-4-5"), "gpt-6.2-sol:high");
        assert_eq!(m.map("claude-haiku-4-5"), "gpt-5.6-luna");
        assert_eq!(m.map("claude-haiku-4-5-20251001"), "gpt-5.6-luna");
        assert!(parse_rule("nothing").is_err());
        assert!(parse_rule("=x").is_err());
    }
}
