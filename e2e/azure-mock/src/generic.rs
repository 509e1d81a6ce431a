//! Microsoft.Resources' generic resource lists (`Resources_List`,
//! `Resources_ListByResourceGroup`): every resource of a subscription or resource group, whatever
//! its provider, as `GenericResourceExpanded` (id, name, type, location, tags, sku), with the
//! `$filter` forms ARM documents: `eq` and `ne` on `location`, `resourceType`, `name` and
//! `resourceGroup`; `substringof('text', name)` and `substringof('text', resourceGroup)`;
//! `tagName eq 'key'`, alone or with `and tagValue eq 'value'`; joined by `and`; and `$top`.

use serde_json::{Map, Value, json};

use crate::error::{ArmError, ArmResult};
use crate::ids;
use crate::store::Data;

/// One condition of a `$filter`.
#[derive(Debug, PartialEq)]
enum Condition {
    /// `property eq 'value'` (or `ne`, `equal` false).
    Compare {
        property: Property,
        value: String,
        equal: bool,
    },
    /// `substringof('text', property)`.
    Contains { property: Property, text: String },
    /// `tagName eq 'key'`, with `tagValue eq 'value'` when given.
    Tag { name: String, value: Option<String> },
}

/// A property a `$filter` may test.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Property {
    Location,
    ResourceType,
    Name,
    ResourceGroup,
}

impl Property {
    fn parse(word: &str) -> Option<Self> {
        match word.to_ascii_lowercase().as_str() {
            "location" => Some(Self::Location),
            "resourcetype" => Some(Self::ResourceType),
            "name" => Some(Self::Name),
            "resourcegroup" => Some(Self::ResourceGroup),
            _ => None,
        }
    }

    /// The resource's value of this property.
    fn of<'a>(self, resource: &'a Value, group: &'a str) -> &'a str {
        let field = |f: &str| resource[f].as_str().unwrap_or_default();
        match self {
            Self::Location => field("location"),
            Self::ResourceType => field("type"),
            Self::Name => field("name"),
            Self::ResourceGroup => group,
        }
    }
}

/// 400 for a `$filter` the list does not take.
fn invalid_filter(filter: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidFilterInQueryString",
        format!("Invalid $filter '{filter}' specified in the query string."),
    )
}

/// A quoted literal (`'it''s'` is `it's`), and what follows it.
fn literal(s: &str) -> Option<(String, &str)> {
    let mut rest = s.trim_start().strip_prefix('\'')?;
    let mut out = String::new();
    loop {
        let end = rest.find('\'')?;
        out.push_str(&rest[..end]);
        rest = &rest[end + 1..];
        match rest.strip_prefix('\'') {
            Some(after) => {
                out.push('\'');
                rest = after;
            }
            None => return Some((out, rest)),
        }
    }
}

/// Splits `filter` on ` and ` outside quotes.
fn clauses(filter: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    let lower = filter.to_ascii_lowercase().into_bytes();
    let mut i = 0;
    while i < filter.len() {
        if filter.as_bytes()[i] == b'\'' {
            quoted = !quoted;
        } else if !quoted && lower[i..].starts_with(b" and ") {
            out.push(filter[start..i].trim());
            i += 5;
            start = i;
            continue;
        }
        i += 1;
    }
    out.push(filter[start..].trim());
    out
}

/// One clause of a `$filter`.
enum Clause {
    /// A condition of its own.
    Condition(Condition),
    /// `tagValue eq 'value'`: the value of the `tagName` clause before it.
    TagValue(String),
}

/// One clause: `property op 'value'` or `substringof('text', property)`.
fn clause(c: &str) -> Option<Clause> {
    const SUBSTRINGOF: &str = "substringof(";
    let starts = c.get(..SUBSTRINGOF.len());
    if starts.is_some_and(|p| p.eq_ignore_ascii_case(SUBSTRINGOF)) {
        let args = &c[SUBSTRINGOF.len()..];
        let (text, rest) = literal(args)?;
        let property = rest.trim().strip_prefix(',')?.trim().strip_suffix(')')?;
        let property = Property::parse(property.trim())
            .filter(|p| matches!(p, Property::Name | Property::ResourceGroup))?;
        return Some(Clause::Condition(Condition::Contains { property, text }));
    }
    let mut words = c.splitn(3, char::is_whitespace);
    let (subject, op, value) = (words.next()?, words.next()?, words.next()?);
    let equal = match op.to_ascii_lowercase().as_str() {
        "eq" => true,
        "ne" => false,
        _ => return None,
    };
    let (value, rest) = literal(value)?;
    if !rest.trim().is_empty() {
        return None;
    }
    if subject.eq_ignore_ascii_case("tagName") && equal {
        return Some(Clause::Condition(Condition::Tag {
            name: value,
            value: None,
        }));
    }
    if subject.eq_ignore_ascii_case("tagValue") && equal {
        return Some(Clause::TagValue(value));
    }
    let property = Property::parse(subject)?;
    Some(Clause::Condition(Condition::Compare {
        property,
        value,
        equal,
    }))
}

/// The conditions of a `$filter`; a `tagValue` clause joins the `tagName` clause before it.
fn parse_filter(filter: &str) -> ArmResult<Vec<Condition>> {
    let mut out: Vec<Condition> = Vec::new();
    for c in clauses(filter) {
        match clause(c) {
            Some(Clause::Condition(c)) => out.push(c),
            Some(Clause::TagValue(v)) => match out.last_mut() {
                Some(Condition::Tag { value: slot, .. }) if slot.is_none() => *slot = Some(v),
                _ => return Err(invalid_filter(filter)),
            },
            None => return Err(invalid_filter(filter)),
        }
    }
    Ok(out)
}

/// Whether the resource (in resource group `group`) meets the condition.
fn holds(condition: &Condition, resource: &Value, group: &str) -> bool {
    match condition {
        Condition::Compare {
            property,
            value,
            equal,
        } => property.of(resource, group).eq_ignore_ascii_case(value) == *equal,
        Condition::Contains { property, text } => property
            .of(resource, group)
            .to_ascii_lowercase()
            .contains(&text.to_ascii_lowercase()),
        Condition::Tag { name, value } => resource["tags"].as_object().is_some_and(|tags| {
            tags.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case(name)
                    && value.as_ref().is_none_or(|want| v.as_str() == Some(want))
            })
        }),
    }
}

/// The resource as a generic list shows it; tags are left out when the filter is on a tag, as
/// ARM does.
fn expanded(resource: &Value, tag_filtered: bool) -> Value {
    let mut out = Map::new();
    for field in ["id", "name", "type", "location", "sku", "kind", "zones"] {
        if let Some(v) = resource.get(field).filter(|v| !v.is_null()) {
            out.insert(field.into(), v.clone());
        }
    }
    if !tag_filtered && let Some(tags) = resource.get("tags").filter(|t| !t.is_null()) {
        out.insert("tags".into(), tags.clone());
    }
    json!(out)
}

/// The resources of subscription `sub` (or of its resource group `rg`) that `filter` admits,
/// in id order, the first `top` of them when given.
pub fn list(
    data: &Data,
    sub: &str,
    rg: Option<&str>,
    filter: Option<&str>,
    top: Option<&str>,
) -> ArmResult<Vec<Value>> {
    let top = top
        .map(|t| {
            t.parse::<usize>().map_err(|_| {
                ArmError::bad_request(
                    "InvalidTopInQueryString",
                    format!("Invalid $top '{t}' specified in the query string."),
                )
            })
        })
        .transpose()?;
    let conditions = match filter.map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => parse_filter(f)?,
        None => Vec::new(),
    };
    let tag_filtered = conditions
        .iter()
        .any(|c| matches!(c, Condition::Tag { .. }));
    let prefix = match rg {
        Some(rg) => ids::key(&format!("/subscriptions/{sub}/resourceGroups/{rg}/")),
        None => ids::key(&format!("/subscriptions/{sub}/")),
    };
    Ok(data
        .resources
        .iter()
        .filter(|(key, _)| key.starts_with(&prefix))
        .filter_map(|(_, r)| {
            let id = r["id"].as_str()?;
            let group = id.split('/').nth(4).unwrap_or_default();
            conditions
                .iter()
                .all(|c| holds(c, r, group))
                .then(|| expanded(r, tag_filtered))
        })
        .take(top.unwrap_or(usize::MAX))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A `$filter` is client input: any text parses or is refused, never a panic.
        #[test]
        fn any_filter_parses_or_is_refused(
            filter in prop_oneof!["\\PC{0,60}", "(name|tagName|tagValue|location) (eq|ne) '[^']{0,5}('')?[^']{0,5}'( and |)"],
        ) {
            let _ = parse_filter(&filter);
        }
    }

    #[test]
    fn filters_parse_as_arm_documents_them() {
        assert_eq!(
            parse_filter("resourceType eq 'Microsoft.Network/publicIPAddresses'").ok(),
            Some(vec![Condition::Compare {
                property: Property::ResourceType,
                value: "Microsoft.Network/publicIPAddresses".into(),
                equal: true
            }])
        );
        assert_eq!(
            parse_filter("tagName eq 'team' and tagValue eq 'a and b'").ok(),
            Some(vec![Condition::Tag {
                name: "team".into(),
                value: Some("a and b".into())
            }])
        );
        assert_eq!(
            parse_filter("substringof('web', name) and location ne 'eastus'").ok(),
            Some(vec![
                Condition::Contains {
                    property: Property::Name,
                    text: "web".into()
                },
                Condition::Compare {
                    property: Property::Location,
                    value: "eastus".into(),
                    equal: false
                }
            ])
        );
        assert_eq!(
            parse_filter("name eq 'it''s'").ok(),
            Some(vec![Condition::Compare {
                property: Property::Name,
                value: "it's".into(),
                equal: true
            }])
        );
        for bad in [
            "name gt 'a'",
            "name eq a",
            "name eq 'a' extra",
            "tagValue eq 'x'",
            "sku eq 'Standard'",
            "substringof('a', location)",
            "name eq 'unterminated",
            "tagName ne 'x'",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }
}
