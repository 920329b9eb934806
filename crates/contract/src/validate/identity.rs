//! The file's identity (`E_IDENTITY`): whose return it is and for which
//! reference year. Both are read from their identity columns (constant in
//! the file), compared with what the submission claims, and the member is
//! looked up in the registry. One loop serves both identities.

use std::collections::HashSet;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, StringArray};
use arrow::datatypes::Int32Type;

use super::validation::Validation;
use crate::finding::{Finding, RuleCode, did_you_mean};
use crate::schema::Identity;

/// An identity value as read from a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdRef<'a> {
    Member(&'a str),
    Year(i32),
}

impl std::fmt::Display for IdRef<'_> {
    /// As messages quote it: member codes in quotes, years bare.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdRef::Member(m) => write!(f, "'{m}'"),
            IdRef::Year(y) => write!(f, "{y}"),
        }
    }
}

impl IdRef<'_> {
    fn bare(&self) -> String {
        match self {
            IdRef::Member(m) => m.to_string(),
            IdRef::Year(y) => y.to_string(),
        }
    }
}

/// An identity value kept across batches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IdValue {
    Member(String),
    Year(i32),
}

impl IdValue {
    fn of(v: IdRef<'_>) -> IdValue {
        match v {
            IdRef::Member(m) => IdValue::Member(m.to_string()),
            IdRef::Year(y) => IdValue::Year(y),
        }
    }

    fn as_ref(&self) -> IdRef<'_> {
        match self {
            IdValue::Member(m) => IdRef::Member(m),
            IdValue::Year(y) => IdRef::Year(*y),
        }
    }
}

/// What has been seen of one identity column.
#[derive(Debug, Default)]
pub(super) struct IdentityState {
    first: Option<IdValue>,
    others: HashSet<IdValue>,
}

impl IdentityState {
    /// The member code of the first row, if any.
    pub(super) fn first_text(&self) -> Option<String> {
        match &self.first {
            Some(IdValue::Member(m)) => Some(m.clone()),
            _ => None,
        }
    }

    /// The year of the first row, if any.
    pub(super) fn first_year(&self) -> Option<i32> {
        match &self.first {
            Some(IdValue::Year(y)) => Some(*y),
            _ => None,
        }
    }
}

/// An identity column's values.
enum IdColumn<'a> {
    Member(&'a StringArray),
    Year(&'a Int32Array),
}

impl IdColumn<'_> {
    fn get(&self, i: usize) -> Option<IdRef<'_>> {
        match self {
            IdColumn::Member(a) => a.is_valid(i).then(|| IdRef::Member(a.value(i))),
            IdColumn::Year(a) => a.is_valid(i).then(|| IdRef::Year(a.value(i))),
        }
    }
}

/// Whether every row of `arr` (a member or year column) holds the same value, none empty.
fn same_in_every_row(arr: &ArrayRef) -> bool {
    if arr.null_count() > 0 {
        return false;
    }
    if let Some(a) = arr.as_string_opt::<i32>() {
        return a.is_empty() || (1..a.len()).all(|i| a.value(i) == a.value(0));
    }
    arr.as_primitive_opt::<Int32Type>()
        .is_some_and(|a| arrow::compute::min(a).is_some_and(|lo| Some(lo) == arrow::compute::max(a)))
}

/// The words messages use for an identity.
fn words(identity: Identity) -> (&'static str, &'static str, &'static str) {
    match identity {
        Identity::Member => ("member", "a member can only submit its own returns", "--member"),
        Identity::Year => ("reference year", "correct the file or the year given", "--year"),
    }
}

impl Validation<'_> {
    /// Read the identity columns of a batch.
    pub(super) fn identity(&mut self, arrays: &[Option<ArrayRef>], offset: u64) {
        for identity in [Identity::Member, Identity::Year] {
            let Some(d) = self.identity_index(identity) else { continue };
            let Some(arr) = arrays[d].clone() else { continue };
            let arr = match arr.as_any_dictionary_opt() {
                // one value in the dictionary and no empty row: the first row says it all
                Some(dict) if dict.values().len() == 1 && arr.null_count() == 0 => {
                    super::validation::as_text(&arr.slice(0, arr.len().min(1)))
                }
                Some(_) => super::validation::as_text(&arr),
                None => arr,
            };
            let name = self.col(d).name.clone();
            let column = match identity {
                Identity::Member => IdColumn::Member(arr.as_string::<i32>()),
                Identity::Year => IdColumn::Year(arr.as_primitive::<Int32Type>()),
            };
            // a column with one value in every row (as it should be) says
            // in its first row all that its other rows would
            let rows = if same_in_every_row(&arr) { arr.len().min(1) } else { arr.len() };
            for i in 0..rows {
                let Some(v) = column.get(i) else { continue };
                let row = offset + i as u64 + 1;
                let state = match identity {
                    Identity::Member => &mut self.member,
                    Identity::Year => &mut self.year,
                };
                match &state.first {
                    None => {
                        state.first = Some(IdValue::of(v));
                        self.first_identity(identity, v, row, &name);
                    }
                    Some(first) if first.as_ref() != v && state.others.insert(IdValue::of(v)) => {
                        let message = format!(
                            "{name} must be the same in every row: row {row} has {v} where earlier rows have {}",
                            first.as_ref()
                        );
                        self.collector
                            .push(Finding::new(RuleCode::Identity, message).column(&name).row(row).value(v.bare()));
                    }
                    _ => {}
                }
            }
        }
    }

    /// The first value of an identity: compared with the claim, and a member looked up.
    fn first_identity(&mut self, identity: Identity, v: IdRef<'_>, row: u64, name: &str) {
        let (noun, fix, _) = words(identity);
        let claimed = match identity {
            Identity::Member => self.expected.member.clone().map(IdValue::Member),
            Identity::Year => self.expected.year.map(IdValue::Year),
        };
        match claimed {
            Some(c) if c.as_ref() != v => self.collector.push(
                Finding::new(
                    RuleCode::Identity,
                    format!("{name} is {v} but this return is submitted for {}; {fix}", c.as_ref()),
                )
                .column(name)
                .row(row)
                .value(v.bare()),
            ),
            Some(_) => {}
            None => self.notes.push(format!("{noun} {} read from the {name} column", v.bare())),
        }
        if let IdRef::Member(code) = v {
            self.registered_member(code, row, name);
        }
    }

    /// A reporting member must be a state or territory of the registry.
    fn registered_member(&mut self, v: &str, row: u64, name: &str) {
        let validator = self.validator;
        let reg = validator.registry();
        let finding = match reg.member(v) {
            Some(m) if m.kind.reports() => return,
            Some(m) => {
                format!("{name} '{v}' is an organisation ({}); only states and territories submit returns", m.name)
            }
            None => {
                let codes: Vec<&str> = reg.reporting_members().map(|m| m.code.as_str()).collect();
                let hint = did_you_mean(v, codes).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
                format!("{name} '{v}' is not a member code of the registry{hint}")
            }
        };
        self.collector.push(Finding::new(RuleCode::Identity, finding).column(name).row(row).value(v));
    }

    /// A file without values in an identity column, and no claim for it,
    /// cannot say whose return it is or for which year.
    pub(super) fn unreadable_identity(&mut self) {
        for identity in [Identity::Member, Identity::Year] {
            let known = match identity {
                Identity::Member => self.expected.member.is_some() || self.member.first.is_some(),
                Identity::Year => self.expected.year.is_some() || self.year.first.is_some(),
            };
            let Some(d) = self.identity_index(identity) else { continue };
            if known || !self.present.iter().any(|p| p.decl == d) {
                continue;
            }
            let (_, _, flag) = words(identity);
            let name = self.col(d).name.clone();
            self.collector.push(
                Finding::new(
                    RuleCode::Identity,
                    format!("{name} cannot be read from a file without values in it; give it with {flag} when validating or submitting"),
                )
                .column(name),
            );
        }
    }
}
