//! Codes in words: a code-list value as the forum's schema files label it
//! (`sexual` → "sexual exploitation"), else with its underscores as spaces,
//! and a member code as the registry names it.

use fedreport_contract::Contract;

/// Words for the codes of one forum's contract.
#[derive(Debug, Clone, Copy)]
pub struct Words<'a> {
    contract: &'a Contract,
}

impl<'a> Words<'a> {
    pub fn new(contract: &'a Contract) -> Words<'a> {
        Words { contract }
    }

    /// A value of a code-list column in words: the label a schema gives it
    /// in the first dataset with a column of that name, else the code with
    /// spaces for underscores.
    pub fn value(&self, column: &str, code: &str) -> String {
        self.contract
            .schemas()
            .iter()
            .filter_map(|s| s.columns.iter().find(|c| c.name == column))
            .find_map(|c| c.labels.as_ref()?.get(code).cloned())
            .unwrap_or_else(|| code.replace('_', " "))
    }

    /// A member's name, or its code when the registry does not know it.
    pub fn member(&self, code: &str) -> String {
        self.contract.registry().member(code).map(|m| m.name.clone()).unwrap_or_else(|| code.to_string())
    }
}
