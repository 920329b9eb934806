//! Empty return templates handed to focal points: a typed Parquet file and a
//! CSV header row, one per dataset, made from the dataset's schema.

use std::collections::BTreeMap;

use crate::canonical::parquet_bytes;
use crate::error::Result;
use crate::schema::DatasetSchema;

/// Footer key naming the dataset of a file fedreport wrote.
pub const DATASET_KEY: &str = "fedreport.dataset";
/// Footer key naming the schema version of a file fedreport wrote.
pub const SCHEMA_VERSION_KEY: &str = "fedreport.schema_version";

/// The footer metadata of a return file written for `schema`.
pub fn return_metadata(schema: &DatasetSchema) -> BTreeMap<String, String> {
    BTreeMap::from([
        (DATASET_KEY.to_string(), schema.dataset.clone()),
        (SCHEMA_VERSION_KEY.to_string(), schema.schema_version.clone()),
    ])
}

/// An empty, correctly typed Parquet template for a dataset.
pub fn empty_parquet(schema: &DatasetSchema) -> Result<Vec<u8>> {
    parquet_bytes(schema.arrow_schema(), &[], &return_metadata(schema))
}

/// An empty CSV template: the header row only.
pub fn empty_csv(schema: &DatasetSchema) -> Vec<u8> {
    let mut out = schema.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out.into_bytes()
}
