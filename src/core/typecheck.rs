//! Type checks of the fields an API defines, including the ones codex-serve does not use: OpenAI answers
//! `temperature: "hot"` with a 400, so a client tested against us must see one too. Unknown fields pass,
//! as they do at OpenAI.
//!
//! A [`Shape`] table per request type names each known field and the JSON types it takes; the check walks
//! the body as it parses (no `Value` is built) and stops at the first field of the wrong type, naming it
//! the way OpenAI does: "Invalid type for 'temperature': expected a decimal, but got a string instead."
//! `null` is taken for every field (the request types treat it as absent). Anthropic's routes word it as
//! Anthropic does ("temperature: Input should be a valid number", paths like `messages.0.content`).

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The JSON types a field takes.
#[derive(Debug)]
pub(crate) enum Shape {
    /// Anything (free-form JSON such as a tool's `parameters` schema is still an object: use `Obj(&[])`).
    Any,
    Str,
    /// Any number ("a decimal" in OpenAI's words).
    Num,
    /// A number without a fraction.
    Int,
    Bool,
    /// An object; the fields named are checked, others pass.
    Obj(&'static [(&'static str, Shape)]),
    Arr(&'static Shape),
    /// The first alternative of the value's JSON type is the one checked further.
    OneOf(&'static [Shape]),
    /// A shape with the Go type Ollama declares for it (`[]api.Message`), for Ollama's wording only.
    Go(&'static str, &'static Shape),
}

/// A JSON value's type, as OpenAI's messages name it.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Str,
    Int,
    Float,
    Bool,
    Obj,
    Arr,
}

impl Kind {
    /// Go's encoding/json name for a JSON value's type.
    fn go(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Int | Kind::Float => "number",
            Kind::Bool => "bool",
            Kind::Obj => "object",
            Kind::Arr => "array",
        }
    }

    fn got(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Int => "an integer",
            Kind::Float => "a decimal number",
            Kind::Bool => "a boolean",
            Kind::Obj => "an object",
            Kind::Arr => "an array",
        }
    }
}

impl Shape {
    /// The alternative that takes a value of `kind`, if any.
    fn accepting(&'static self, kind: Kind) -> Option<&'static Shape> {
        let ok = match self {
            Shape::Any => true,
            Shape::Str => kind == Kind::Str,
            Shape::Num => matches!(kind, Kind::Int | Kind::Float),
            Shape::Int => kind == Kind::Int,
            Shape::Bool => kind == Kind::Bool,
            Shape::Obj(_) => kind == Kind::Obj,
            Shape::Arr(_) => kind == Kind::Arr,
            Shape::OneOf(alts) => return alts.iter().find_map(|a| a.accepting(kind)),
            Shape::Go(_, inner) => return inner.accepting(kind),
        };
        ok.then_some(self)
    }

    fn expected(&self) -> String {
        match self {
            Shape::Any => "any value".into(),
            Shape::Str => "a string".into(),
            Shape::Num => "a decimal".into(),
            Shape::Int => "an integer".into(),
            Shape::Bool => "a boolean".into(),
            Shape::Obj(_) => "an object".into(),
            Shape::Arr(_) => "an array".into(),
            Shape::OneOf(alts) => {
                let names: Vec<String> = alts.iter().map(Shape::expected).collect();
                match names.as_slice() {
                    [one] => one.clone(),
                    [a, b] => format!("one of {a} or {b}"),
                    [rest @ .., last] => format!("one of {}, or {last}", rest.join(", ")),
                    [] => "nothing".into(),
                }
            }
            Shape::Go(_, inner) => inner.expected(),
        }
    }
}

/// Whose words a mismatch is told in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Wording {
    OpenAi,
    Anthropic,
    /// Go's encoding/json, as Ollama answers, with the Go struct the body is read into.
    Ollama(&'static str),
}

/// One route's check: the request type's fields, and the API's wording.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Known(pub &'static Shape, pub Wording);

impl Shape {
    /// Anthropic's (pydantic's) name for what a field takes.
    fn anthropic_name(&self) -> &'static str {
        match self {
            Shape::Any => "value",
            Shape::Str => "string",
            Shape::Num => "number",
            Shape::Int => "integer",
            Shape::Bool => "boolean",
            Shape::Obj(_) => "dictionary",
            Shape::Arr(_) => "list",
            Shape::OneOf(alts) => alts.first().map_or("value", Shape::anthropic_name),
            Shape::Go(_, inner) => inner.anthropic_name(),
        }
    }

    /// The Go type Ollama reads a field into.
    fn go_type(&self) -> String {
        match self {
            Shape::Any => "interface {}".into(),
            Shape::Str => "string".into(),
            Shape::Num => "float64".into(),
            Shape::Int => "int".into(),
            Shape::Bool => "bool".into(),
            Shape::Obj(_) => "map[string]interface {}".into(),
            Shape::Arr(item) => format!("[]{}", item.go_type()),
            Shape::OneOf(alts) => alts.first().map_or("interface {}".into(), Shape::go_type),
            Shape::Go(name, _) => (*name).into(),
        }
    }
}

/// The first wrong-typed field: `param` in OpenAI's notation (`tools[0].function.parameters`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mismatch {
    pub(crate) param: String,
    pub(crate) message: String,
}

/// Checks `body` against `shape`. Input that is not JSON passes: the request's own parser says why.
#[cfg(test)]
pub(crate) fn check(body: &[u8], shape: &'static Shape) -> Result<(), Mismatch> {
    check_as(body, Known(shape, Wording::OpenAi))
}

pub(crate) fn check_as(body: &[u8], known: Known) -> Result<(), Mismatch> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let seed = Check {
        shape: known.0,
        path: &Path::Root,
        found: &found,
        wording: known.1,
    };
    let _ = seed.deserialize(&mut de);
    match found.into_inner() {
        // A body that is not an object at all is the request parser's to explain.
        Some(m) if !m.param.is_empty() => Err(m),
        _ => Ok(()),
    }
}

enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// `tools[0].function` (OpenAI), `tools.0.function` (Anthropic) or `tools.function` (Go).
    fn render(&self, wording: Wording, out: &mut String) {
        use std::fmt::Write;
        match self {
            Path::Root => {}
            Path::Key(Path::Root, k) => out.push_str(k),
            Path::Key(parent, k) => {
                parent.render(wording, out);
                out.push('.');
                out.push_str(k);
            }
            Path::Index(parent, i) => {
                parent.render(wording, out);
                let _ = match wording {
                    Wording::OpenAi => write!(out, "[{i}]"),
                    Wording::Anthropic => write!(out, ".{i}"),
                    Wording::Ollama(_) => Ok(()),
                };
            }
        }
    }
}

struct Check<'a> {
    shape: &'static Shape,
    path: &'a Path<'a>,
    found: &'a RefCell<Option<Mismatch>>,
    wording: Wording,
}

impl Check<'_> {
    /// The shape to go on with, or the mismatch recorded (and an error to stop the parse).
    fn take<E: serde::de::Error>(&self, kind: Kind) -> Result<&'static Shape, E> {
        if let Some(s) = self.shape.accepting(kind) {
            return Ok(s);
        }
        let mut param = String::new();
        self.path.render(self.wording, &mut param);
        let message = match self.wording {
            Wording::OpenAi => format!(
                "Invalid type for '{param}': expected {}, but got {} instead.",
                self.shape.expected(),
                kind.got()
            ),
            Wording::Anthropic => format!(
                "{param}: Input should be a valid {}",
                self.shape.anthropic_name()
            ),
            Wording::Ollama(root) => format!(
                "json: cannot unmarshal {} into Go struct field {root}.{param} of type {}",
                kind.go(),
                self.shape.go_type()
            ),
        };
        *self.found.borrow_mut() = Some(Mismatch { param, message });
        Err(E::custom("invalid type"))
    }
}

impl Shape {
    /// Whether some alternative is a scalar, and whether every one is. Some: the value's text is looked
    /// at first. Every: a value checked against the shape needs only its JSON type, which the first bytes
    /// of its text tell, so its text is skipped rather than parsed (a long string is not unescaped and
    /// copied).
    fn scalars(&self) -> (bool, bool) {
        match self {
            Shape::Str | Shape::Num | Shape::Int | Shape::Bool => (true, true),
            Shape::OneOf(alts) => alts
                .iter()
                .map(Shape::scalars)
                .fold((false, true), |(any, all), (a, b)| (any || a, all && b)),
            Shape::Go(_, inner) => inner.scalars(),
            Shape::Any | Shape::Obj(_) | Shape::Arr(_) => (false, false),
        }
    }

    /// The kind of a JSON value from its text, as serde_json's parse would have visited it: `Ok(None)`
    /// for `null`, `Err` for a number it refuses (out of range). Integers that fit in 64 bits are
    /// integers, except `-0`; other numbers are floats, and a float checked against a shape that takes
    /// integers counts as one when it has no fraction.
    fn kind_of(&'static self, raw: &str) -> Result<Option<Kind>, ()> {
        let kind = match raw.as_bytes().first() {
            None | Some(b'n') => return Ok(None),
            Some(b'"') => Kind::Str,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'{') => Kind::Obj,
            Some(b'[') => Kind::Arr,
            Some(_) => {
                let integer = !raw.contains(['.', 'e', 'E'])
                    && match raw.parse::<i64>() {
                        Ok(v) => v != 0 || !raw.starts_with('-'),
                        Err(_) => raw.parse::<u64>().is_ok(),
                    };
                if integer {
                    Kind::Int
                } else {
                    let v = raw.parse::<f64>().map_err(drop)?;
                    if !v.is_finite() {
                        return Err(());
                    }
                    if v.fract() == 0.0 && self.accepting(Kind::Int).is_some() {
                        Kind::Int
                    } else {
                        Kind::Float
                    }
                }
            }
        };
        Ok(Some(kind))
    }
}

impl<'de> DeserializeSeed<'de> for Check<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if matches!(self.shape, Shape::Any) {
            return <IgnoredAny as serde::Deserialize>::deserialize(d).map(drop);
        }
        if !self.shape.scalars().0 {
            return d.deserialize_any(self);
        }
        // serde_json hands over the value's text, checked but not unescaped: a string (a message's
        // content, often long) needs no copy to be known as one.
        let raw = <&serde_json::value::RawValue as serde::Deserialize>::deserialize(d)?;
        match self.shape.kind_of(raw.get()) {
            Ok(Some(kind @ (Kind::Obj | Kind::Arr)))
                if self.shape.accepting(kind).is_some_and(|s| !s.scalars().1) =>
            {
                // An array or object where one is taken: walked as before, from its text.
                let mut inner = serde_json::Deserializer::from_str(raw.get());
                serde::Deserializer::deserialize_any(&mut inner, self)
                    .map_err(serde::de::Error::custom)
            }
            Ok(Some(kind)) => self.take(kind).map(drop),
            Ok(None) => Ok(()),
            Err(()) => Err(serde::de::Error::custom("number out of range")),
        }
    }
}

/// A key of an object checked against `fields`: the field it names, if any, without allocating.
struct Field(&'static [(&'static str, Shape)]);

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Option<&'static (&'static str, Shape)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = Option<&'static (&'static str, Shape)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().find(|(name, _)| *name == key))
    }
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.shape.expected())
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.take(Kind::Bool).map(drop)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.take(Kind::Int).map(drop)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.take(Kind::Int).map(drop)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        // `2.0` is an integer's value written as a decimal; only a fraction is refused where one is not.
        let kind = if v.fract() == 0.0 && self.shape.accepting(Kind::Int).is_some() {
            Kind::Int
        } else {
            Kind::Float
        };
        self.take(kind).map(drop)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.take(Kind::Str).map(drop)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let item = match self.take(Kind::Arr)? {
            Shape::Arr(item) => *item,
            _ => &Shape::Any,
        };
        let mut i = 0;
        loop {
            let path = Path::Index(self.path, i);
            let seed = Check {
                shape: item,
                path: &path,
                found: self.found,
                wording: self.wording,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fields: &'static [(&'static str, Shape)] = match self.take(Kind::Obj)? {
            Shape::Obj(fields) => fields,
            _ => &[],
        };
        while let Some(field) = map.next_key_seed(Field(fields))? {
            match field {
                Some((name, shape)) => {
                    let path = Path::Key(self.path, name);
                    map.next_value_seed(Check {
                        shape,
                        path: &path,
                        found: self.found,
                        wording: self.wording,
                    })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "typecheck_tests.rs"]
mod tests;
