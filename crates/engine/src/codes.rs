//! Grouping on integer codes instead of strings.
//!
//! The datasets' coded columns (the reporting member, an outcome, an
//! offence, a stage: closed code lists in `schemas/`) are strings in the
//! accepted files, and the per-return steps group tens of millions of rows
//! by them. DataFusion groups strings far more slowly than integers (its
//! multi-column grouping hashes and compares every string of every row;
//! docs/benchmarks.md). The SQL files should not have to know that.
//!
//! So the local engine's optimizer has one more rule, [`GroupOnCodes`]. An
//! aggregation over a dataset table ([`PinnedTable`]) that groups by coded
//! columns, and uses them nowhere else but in comparisons with constants
//! (`outcome = 'landed'`, `partner_member IS NOT NULL`), is rewritten to
//! read those columns as integer codes ([`CodedTable`]: the Parquet scan
//! reads them as dictionaries, as the files store them, and [`CodeExec`]
//! turns each batch's few dictionary values into codes), to compare them
//! with the constants' codes, and to group by the codes; a projection above
//! the aggregation turns the grouped rows' codes back into the strings
//! ([`Decode`]), under the names and types the SQL planned. Codes are
//! handed out by an [`Interner`] per column and table, in the order values
//! are first met: they never leave the process, so their order does not
//! matter, and a value outside the code list (an older schema's) simply
//! gets the next code.
//!
//! When every column of the key is coded or an integer (the year), the
//! scan also numbers each row's whole key with one code ([`Tuples`]; a
//! batch's keys are few, so each distinct one is looked up once), the
//! aggregation groups on that one integer column (DataFusion's
//! single-column grouping, several times faster than its multi-column
//! one), and [`KeyPart`] takes each key column back from it. Every table a
//! run writes is byte for byte what grouping on strings gives
//! (`tests/it/codes.rs`).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, RecordBatch, StringViewArray, StringViewBuilder};
use datafusion::arrow::buffer::ScalarBuffer;
use datafusion::arrow::compute::{cast, max, min};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int32Type, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DataFusionError, Result, ScalarValue, Statistics, internal_err};
use datafusion::datasource::{TableProvider, TableType, provider_as_source, source_as_provider};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    Aggregate, BinaryExpr, ColumnarValue, Expr, LogicalPlan, Operator, Projection, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, TableProviderFilterPushDown, TableScan, TableScanBuilder, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;

use crate::session::PinnedTable;

/// The codes of one column's values: each distinct string gets the next
/// integer the first time a scan or a query meets it.
#[derive(Debug)]
pub struct Interner {
    column: String,
    table: RwLock<Table>,
}

#[derive(Debug, Default)]
struct Table {
    codes: HashMap<String, i32>,
    values: Vec<String>,
}

impl Interner {
    pub fn new(column: &str) -> Self {
        Self { column: column.to_string(), table: RwLock::default() }
    }

    /// The column whose values these are.
    pub fn column(&self) -> &str {
        &self.column
    }

    /// The code of `value`, handed out now if it has none yet.
    pub fn code(&self, value: &str) -> Result<i32> {
        if let Some(c) = self.table.read().unwrap_or_else(|e| e.into_inner()).codes.get(value) {
            return Ok(*c);
        }
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = t.codes.get(value) {
            return Ok(*c);
        }
        let Ok(c) = i32::try_from(t.values.len()) else {
            return internal_err!("column {} has more distinct values than codes", self.column);
        };
        t.values.push(value.to_string());
        t.codes.insert(value.to_string(), c);
        Ok(c)
    }

    /// The strings of `codes` (nulls stay null).
    pub fn decode(&self, codes: &Int32Array) -> Result<StringViewArray> {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        let mut out = StringViewBuilder::with_capacity(codes.len());
        for c in codes {
            match c {
                None => out.append_null(),
                Some(c) => match t.values.get(c as usize) {
                    Some(v) => out.append_value(v),
                    None => return internal_err!("column {}: code {c} was never handed out", self.column),
                },
            }
        }
        Ok(out.finish())
    }

    /// `array` (strings, or a dictionary of strings as the Parquet scan reads
    /// a coded column) as codes: each distinct dictionary value is looked up
    /// once, then every row's key is mapped to its value's code.
    pub fn encode(&self, array: &ArrayRef) -> Result<ArrayRef> {
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let array = if array.data_type() == &dictionary { Arc::clone(array) } else { cast(array, &dictionary)? };
        let dict = array.as_dictionary::<Int32Type>();
        let values = dict.values().as_string::<i32>();
        let codes: Vec<Option<i32>> = (0..values.len())
            .map(|i| values.is_valid(i).then(|| self.code(values.value(i))).transpose())
            .collect::<Result<_>>()?;
        let keys = dict.keys();
        if values.null_count() == 0 {
            // a null row's key may be any index; its code is masked by the nulls
            let codes: Vec<i32> = codes.into_iter().map(|c| c.unwrap_or_default()).collect();
            let mapped: ScalarBuffer<i32> =
                keys.values().iter().map(|&k| codes.get(k as usize).copied().unwrap_or_default()).collect();
            Ok(Arc::new(Int32Array::new(mapped, keys.nulls().cloned())))
        } else {
            Ok(Arc::new(
                keys.iter().map(|k| k.and_then(|k| codes.get(k as usize).copied().flatten())).collect::<Int32Array>(),
            ))
        }
    }
}

/// Each coded column of a dataset table, with its codes.
pub type Codes = BTreeMap<String, Arc<Interner>>;

/// The columns of `dataset` an engine may group on as codes: those with a
/// closed code list or a code list (registry members, ISO 3166).
pub fn coded_columns(dataset: &fedreport_contract::DatasetSchema) -> Vec<String> {
    dataset.columns.iter().filter(|c| c.values.is_some() || c.codelist.is_some()).map(|c| c.name.clone()).collect()
}

/// A code back to its string: the projection [`GroupOnCodes`] puts above
/// an aggregation it moved onto codes.
#[derive(Debug)]
pub struct Decode {
    interner: Arc<Interner>,
    name: String,
    signature: Signature,
}

impl Decode {
    pub fn udf(interner: Arc<Interner>) -> ScalarUDF {
        let name = format!("decode_{}", interner.column());
        ScalarUDF::new_from_impl(Self {
            interner,
            name,
            signature: Signature::exact(vec![DataType::Int32], Volatility::Immutable),
        })
    }
}

impl PartialEq for Decode {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.interner, &other.interner)
    }
}

impl Eq for Decode {}

impl Hash for Decode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.interner) as usize).hash(state);
    }
}

impl ScalarUDFImpl for Decode {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8View)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.first().is_none_or(|f| f.is_nullable());
        Ok(Arc::new(Field::new(self.name(), DataType::Utf8View, nullable)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.first() {
            Some(ColumnarValue::Array(a)) => {
                Ok(ColumnarValue::Array(Arc::new(self.interner.decode(a.as_primitive::<Int32Type>())?)))
            }
            Some(ColumnarValue::Scalar(ScalarValue::Int32(c))) => {
                let codes = Int32Array::from(vec![*c]);
                let value = self.interner.decode(&codes)?;
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8View(value.is_valid(0).then(|| value.value(0).to_string()))))
            }
            other => internal_err!("{} takes one code, not {other:?}", self.name),
        }
    }
}

/// The optimizer rule that moves aggregations over coded columns onto
/// codes (see the module's documentation).
#[derive(Debug, Default)]
pub struct GroupOnCodes;

impl OptimizerRule for GroupOnCodes {
    fn name(&self) -> &str {
        "fedreport_group_on_codes"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &plan else { return Ok(Transformed::no(plan)) };
        match on_codes(aggregate)? {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

/// `aggregate` grouping on codes, or `None` when it does not group by a
/// coded column of a dataset table that nothing else needs as a string.
fn on_codes(aggregate: &Aggregate) -> Result<Option<LogicalPlan>> {
    // the projections and filters between the aggregation and its scan
    let mut between: Vec<&LogicalPlan> = Vec::new();
    let mut node = aggregate.input.as_ref();
    let scan = loop {
        match node {
            LogicalPlan::Projection(p) => {
                between.push(node);
                node = p.input.as_ref();
            }
            LogicalPlan::Filter(f) => {
                between.push(node);
                node = f.input.as_ref();
            }
            LogicalPlan::TableScan(scan) => break scan,
            _ => return Ok(None),
        }
    };
    let Ok(provider) = source_as_provider(&scan.source) else { return Ok(None) };
    let Some(table) = (provider.as_ref() as &dyn Any).downcast_ref::<PinnedTable>() else { return Ok(None) };
    if aggregate.group_expr.iter().any(|e| matches!(e, Expr::GroupingSet(_))) {
        return Ok(None);
    }
    let mut coded: Codes = aggregate
        .group_expr
        .iter()
        .filter_map(|e| match e {
            Expr::Column(c) if c.relation.as_ref().is_none_or(|r| r == &scan.table_name) => {
                table.codes().get(&c.name).map(|i| (c.name.clone(), Arc::clone(i)))
            }
            _ => None,
        })
        .collect();
    coded.retain(|column, _| only_grouped_or_compared(aggregate, &between, scan, column));
    if coded.is_empty() {
        return Ok(None);
    }

    // a key of several columns, each coded or an integer, is grouped on as one code
    let schema = table.schema();
    // (name, column index, codes if coded)
    type Part = (String, usize, Option<Arc<Interner>>);
    let key: Option<Vec<Part>> = aggregate
        .group_expr
        .iter()
        .map(|e| match e {
            Expr::Column(c) if c.relation.as_ref().is_none_or(|r| r == &scan.table_name) => {
                let i = schema.index_of(&c.name).ok()?;
                match coded.get(&c.name) {
                    Some(interner) => Some((c.name.clone(), i, Some(Arc::clone(interner)))),
                    None if schema.field(i).data_type() == &DataType::Int32 => Some((c.name.clone(), i, None)),
                    None => None,
                }
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .filter(|k| k.len() > 1);
    let group = key.map(|k| {
        let indexes = k.iter().map(|(_, i, _)| *i).collect::<Vec<_>>();
        (indexes, Arc::new(Tuples::new(k.into_iter().map(|(n, _, c)| (n, c)).collect())))
    });

    let recoded = |e: &Expr| recode(e.clone(), &coded);
    let coded_table = CodedTable::new(Arc::clone(&provider), table, &coded, group.clone())?;
    let group_column = Expr::Column(Column::new(Some(scan.table_name.clone()), GROUP));
    let projection = match (&scan.projection, &group) {
        (Some(p), Some(_)) => Some(p.iter().copied().chain([schema.fields().len()]).collect()),
        (p, _) => p.clone(),
    };
    let filters = scan.filters.iter().map(recoded).collect::<Result<Vec<_>>>()?;
    let new_scan = TableScanBuilder::new(scan.table_name.clone(), provider_as_source(Arc::new(coded_table)))
        .with_projection(projection)
        .with_filters(filters)
        .with_fetch(scan.fetch)
        .with_statistics_requests(scan.statistics_requests.clone())
        .build()?;
    let mut input = LogicalPlan::TableScan(new_scan);
    for node in between.iter().rev() {
        let mut exprs = node.expressions().iter().map(recoded).collect::<Result<Vec<_>>>()?;
        if group.is_some() && matches!(node, LogicalPlan::Projection(_)) {
            exprs.push(group_column.clone());
        }
        input = node.with_new_exprs(exprs, vec![input])?;
    }
    let keys = match &group {
        Some(_) => vec![group_column],
        None => aggregate.group_expr.iter().map(recoded).collect::<Result<Vec<_>>>()?,
    };
    let aggr = aggregate.aggr_expr.iter().map(recoded).collect::<Result<Vec<_>>>()?;
    let grouped = Aggregate::try_new(Arc::new(input), keys, aggr)?;

    // the codes back to strings, under the names the SQL planned
    let (before, after) = (aggregate.schema.as_ref(), grouped.schema.clone());
    let (keys_before, keys_after) = (aggregate.group_expr.len(), grouped.group_expr.len());
    if before.fields().len() - keys_before != after.fields().len() - keys_after {
        return Ok(None);
    }
    let column = |i: usize| {
        let (q, f) = after.qualified_field(i);
        Expr::Column(Column::new(q.cloned(), f.name()))
    };
    let decoded = (0..before.fields().len())
        .map(|i| {
            let (qualifier, field) = before.qualified_field(i);
            let expr = match (&group, aggregate.group_expr.get(i)) {
                (Some((_, tuples)), Some(_)) => Expr::ScalarFunction(ScalarFunction::new_udf(
                    Arc::new(KeyPart::udf(Arc::clone(tuples), i, Arc::clone(field))),
                    vec![column(0)],
                )),
                (None, Some(Expr::Column(c))) if coded.contains_key(&c.name) => Expr::ScalarFunction(
                    ScalarFunction::new_udf(Arc::new(Decode::udf(Arc::clone(&coded[&c.name]))), vec![column(i)]),
                ),
                _ if i < keys_before => column(i),
                // an aggregate's value
                _ => column(i - keys_before + keys_after),
            };
            expr.alias_qualified(qualifier.cloned(), field.name())
        })
        .collect::<Vec<_>>();
    let projection = Projection::try_new(decoded, Arc::new(LogicalPlan::Aggregate(grouped)))?;
    // the rewritten plan must give exactly the rows' names and types the SQL planned
    let same = before.iter().zip(projection.schema.iter()).all(|((q1, f1), (q2, f2))| {
        q1 == q2 && f1.name() == f2.name() && f1.data_type() == f2.data_type() && f1.is_nullable() == f2.is_nullable()
    });
    Ok(same.then_some(LogicalPlan::Projection(projection)))
}

/// Whether `column` is used between the scan and the aggregation's output
/// only as a group key, passed through unchanged, or compared with a
/// constant string or null.
fn only_grouped_or_compared(aggregate: &Aggregate, between: &[&LogicalPlan], scan: &TableScan, column: &str) -> bool {
    let grouped = aggregate.group_expr.iter().all(|e| is_column(e, column) || compared_only(e, column));
    let aggregated = aggregate.aggr_expr.iter().all(|e| compared_only(e, column));
    let filtered = scan.filters.iter().all(|e| compared_only(e, column));
    let passed = between.iter().all(|node| match node {
        LogicalPlan::Projection(p) => p.expr.iter().zip(p.schema.fields()).all(|(e, f)| {
            let through = match e {
                Expr::Alias(a) => a.name == column && is_column(&a.expr, column),
                e => is_column(e, column),
            };
            through || (f.name() != column && compared_only(e, column))
        }),
        LogicalPlan::Filter(f) => compared_only(&f.predicate, column),
        _ => false,
    });
    grouped && aggregated && filtered && passed
}

fn is_column(e: &Expr, column: &str) -> bool {
    matches!(e, Expr::Column(c) if c.name == column)
}

/// `column`, or `column` cast to a string type.
fn column_as_text(e: &Expr, column: &str) -> bool {
    match e {
        Expr::Cast(c) => {
            matches!(c.field.data_type(), DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
                && is_column(&c.expr, column)
        }
        e => is_column(e, column),
    }
}

/// A constant string (or a null), as a comparison's other side.
fn text(e: &Expr) -> Option<Option<&str>> {
    match e {
        Expr::Literal(ScalarValue::Utf8(v) | ScalarValue::Utf8View(v) | ScalarValue::LargeUtf8(v), _) => {
            Some(v.as_deref())
        }
        Expr::Literal(ScalarValue::Null, _) => Some(None),
        _ => None,
    }
}

/// Whether every use of `column` in `e` is `column = 'constant'`, `<>`, or
/// `IS [NOT] NULL`.
fn compared_only(e: &Expr, column: &str) -> bool {
    if column_as_text(e, column) {
        return false;
    }
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq | Operator::NotEq, right })
            if (column_as_text(left, column) && text(right).is_some())
                || (column_as_text(right, column) && text(left).is_some()) =>
        {
            true
        }
        Expr::IsNull(inner) | Expr::IsNotNull(inner) if column_as_text(inner, column) => true,
        e => {
            let mut only = true;
            // the closure never fails
            let _ = e.apply_children(|child| {
                only = compared_only(child, column);
                Ok(if only { TreeNodeRecursion::Continue } else { TreeNodeRecursion::Stop })
            });
            only
        }
    }
}

/// `e` with each comparison of a coded column against a constant made a
/// comparison of codes.
fn recode(e: Expr, coded: &Codes) -> Result<Expr> {
    let coded_column = |e: &Expr| coded.iter().find(|(c, _)| column_as_text(e, c)).map(|(c, i)| (c.clone(), i));
    let bare = |e: Box<Expr>| -> Box<Expr> {
        match *e {
            Expr::Cast(c) => c.expr,
            e => Box::new(e),
        }
    };
    let code = |interner: &Interner, v: Option<&str>| -> Result<Box<Expr>> {
        Ok(Box::new(Expr::Literal(ScalarValue::Int32(v.map(|v| interner.code(v)).transpose()?), None)))
    };
    e.transform_up(|e| {
        Ok(match e {
            Expr::BinaryExpr(BinaryExpr { left, op: op @ (Operator::Eq | Operator::NotEq), right }) => {
                if let (Some((_, interner)), Some(v)) = (coded_column(&left), text(&right)) {
                    let right = code(interner, v)?;
                    Transformed::yes(Expr::BinaryExpr(BinaryExpr { left: bare(left), op, right }))
                } else if let (Some((_, interner)), Some(v)) = (coded_column(&right), text(&left)) {
                    let left = code(interner, v)?;
                    Transformed::yes(Expr::BinaryExpr(BinaryExpr { left, op, right: bare(right) }))
                } else {
                    Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right }))
                }
            }
            Expr::IsNull(inner) if coded_column(&inner).is_some() => Transformed::yes(Expr::IsNull(bare(inner))),
            Expr::IsNotNull(inner) if coded_column(&inner).is_some() => Transformed::yes(Expr::IsNotNull(bare(inner))),
            e => Transformed::no(e),
        })
    })
    .map(|t| t.data)
}

/// The name of a coded table's extra column: the code of each row's group
/// key (all the columns an aggregation groups by, as one integer).
pub const GROUP: &str = "__fedreport_group";

/// The codes of group keys: each distinct tuple of an aggregation's key
/// columns (as codes, or the integers they are) gets the next integer.
#[derive(Debug)]
pub struct Tuples {
    /// Each key column's name and codes; `None`: an integer column, kept as it is.
    parts: Vec<(String, Option<Arc<Interner>>)>,
    table: RwLock<TupleTable>,
}

#[derive(Debug, Default)]
struct TupleTable {
    codes: HashMap<Vec<Option<i32>>, i32>,
    keys: Vec<Vec<Option<i32>>>,
}

impl Tuples {
    fn new(parts: Vec<(String, Option<Arc<Interner>>)>) -> Self {
        Self { parts, table: RwLock::default() }
    }

    fn code(&self, key: Vec<Option<i32>>) -> Result<i32> {
        if let Some(c) = self.table.read().unwrap_or_else(|e| e.into_inner()).codes.get(&key) {
            return Ok(*c);
        }
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = t.codes.get(&key) {
            return Ok(*c);
        }
        let Ok(c) = i32::try_from(t.keys.len()) else {
            return internal_err!("more distinct group keys than codes");
        };
        t.keys.push(key.clone());
        t.codes.insert(key, c);
        Ok(c)
    }

    /// Each row's group key code, from its key columns (codes or integers).
    ///
    /// Within a batch (rows of one file, mostly of one member and year) the
    /// key columns take few values, so each row's key is first numbered
    /// densely within the batch (the offsets of its values from the batch's
    /// least), and only each distinct key of the batch is looked up; a batch
    /// whose keys could number more than 65,536 looks each row up.
    fn encode(&self, columns: &[&Int32Array], rows: usize) -> Result<Int32Array> {
        const DENSE: u64 = 1 << 16;
        // the columns that vary within the batch: (column, least value, 1 if it has nulls, stride)
        let mut varying = Vec::with_capacity(columns.len());
        let mut span: u64 = 1;
        for c in columns {
            let nulls = u64::from(c.null_count() > 0);
            let (lo, width) = match (min(*c), max(*c)) {
                (Some(lo), Some(hi)) => (lo, (i64::from(hi) - i64::from(lo) + 1) as u64 + nulls),
                // every row null
                _ => (0, 1),
            };
            if width > 1 {
                varying.push((*c, lo, nulls, span));
            }
            span = span.saturating_mul(width);
        }
        let key_of = |row: usize| -> Vec<Option<i32>> {
            columns.iter().map(|c| c.is_valid(row).then(|| c.value(row))).collect()
        };
        if span == 1 {
            // one key for the whole batch (one member, year and value)
            return Ok(Int32Array::from_value(if rows == 0 { 0 } else { self.code(key_of(0))? }, rows));
        }
        let mut out = Vec::with_capacity(rows);
        if span <= DENSE {
            // each row's place in the batch's key space, a column at a time;
            // below 2^16 every offset, slot and stride fits a u32
            let mut slots = vec![0u32; rows];
            for (c, lo, nulls, stride) in varying {
                let (nulls, stride) = (nulls as u32, stride as u32);
                let values = c.values().iter();
                match c.nulls() {
                    None => {
                        for (s, &v) in slots.iter_mut().zip(values) {
                            *s += (v.wrapping_sub(lo) as u32 + nulls) * stride;
                        }
                    }
                    Some(valid) => {
                        for ((s, &v), ok) in slots.iter_mut().zip(values).zip(valid.iter()) {
                            if ok {
                                *s += (v.wrapping_sub(lo) as u32 + nulls) * stride;
                            }
                        }
                    }
                }
            }
            let mut known = vec![-1i32; span as usize];
            for (row, &s) in slots.iter().enumerate() {
                let code = &mut known[s as usize];
                if *code < 0 {
                    *code = self.code(key_of(row))?;
                }
                out.push(*code);
            }
        } else {
            for row in 0..rows {
                out.push(self.code(key_of(row))?);
            }
        }
        Ok(Int32Array::from(out))
    }
}

/// One column of a group key back from the key's code: the projection
/// [`GroupOnCodes`] puts above an aggregation it moved onto group keys.
#[derive(Debug)]
pub struct KeyPart {
    tuples: Arc<Tuples>,
    part: usize,
    field: FieldRef,
    name: String,
    signature: Signature,
}

impl KeyPart {
    /// The `part`th key column, as `field` says (the type and nullability the SQL planned).
    pub fn udf(tuples: Arc<Tuples>, part: usize, field: FieldRef) -> ScalarUDF {
        ScalarUDF::new_from_impl(Self::new(tuples, part, field))
    }

    fn new(tuples: Arc<Tuples>, part: usize, field: FieldRef) -> Self {
        let name = format!("key_part_{}", tuples.parts.get(part).map(|(n, _)| n.as_str()).unwrap_or_default());
        Self { tuples, part, field, name, signature: Signature::exact(vec![DataType::Int32], Volatility::Immutable) }
    }

    fn values(&self, keys: &Int32Array) -> Result<ArrayRef> {
        let t = self.tuples.table.read().unwrap_or_else(|e| e.into_inner());
        let mut parts = Vec::with_capacity(keys.len());
        for k in keys {
            let part = match k {
                None => None,
                Some(k) => match t.keys.get(k as usize) {
                    Some(key) => key.get(self.part).copied().flatten(),
                    None => return internal_err!("group key code {k} was never handed out"),
                },
            };
            parts.push(part);
        }
        drop(t);
        let parts = Int32Array::from(parts);
        Ok(match &self.tuples.parts.get(self.part) {
            Some((_, Some(interner))) => Arc::new(interner.decode(&parts)?),
            _ => Arc::new(parts),
        })
    }
}

impl PartialEq for KeyPart {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.tuples, &other.tuples) && self.part == other.part
    }
}

impl Eq for KeyPart {}

impl Hash for KeyPart {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.tuples) as usize).hash(state);
        self.part.hash(state);
    }
}

impl ScalarUDFImpl for KeyPart {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.field.data_type().clone())
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(self.name(), self.field.data_type().clone(), self.field.is_nullable())))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.first() {
            Some(ColumnarValue::Array(a)) => Ok(ColumnarValue::Array(self.values(a.as_primitive::<Int32Type>())?)),
            Some(ColumnarValue::Scalar(ScalarValue::Int32(k))) => {
                let value = self.values(&Int32Array::from(vec![*k]))?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&value, 0)?))
            }
            other => internal_err!("{} takes one group key, not {other:?}", self.name),
        }
    }
}

/// A dataset table with some of its columns as codes (`Int32`), and, when
/// an aggregation groups on a key of several columns, one more column
/// ([`GROUP`]) with each row's key as one code.
#[derive(Debug)]
pub struct CodedTable {
    table: Arc<dyn TableProvider>,
    /// Column index → its codes.
    coded: BTreeMap<usize, Arc<Interner>>,
    /// The key columns' indexes, in the key's order, and the keys' codes.
    group: Option<(Vec<usize>, Arc<Tuples>)>,
    /// The table's columns, the coded ones as codes, and the group key.
    schema: SchemaRef,
    /// The table's columns, the coded ones as the scan reads them (dictionaries).
    read: SchemaRef,
}

impl CodedTable {
    fn new(
        table: Arc<dyn TableProvider>,
        pinned: &PinnedTable,
        coded: &Codes,
        group: Option<(Vec<usize>, Arc<Tuples>)>,
    ) -> Result<Self> {
        let schema = pinned.schema();
        let mut by_index = BTreeMap::new();
        for (column, interner) in coded {
            by_index.insert(schema.index_of(column)?, Arc::clone(interner));
        }
        let with = |ty: &DataType| -> Vec<FieldRef> {
            schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if by_index.contains_key(&i) {
                        Arc::new(f.as_ref().clone().with_data_type(ty.clone()))
                    } else {
                        Arc::clone(f)
                    }
                })
                .collect()
        };
        let mut fields = with(&DataType::Int32);
        if group.is_some() {
            fields.push(Arc::new(Field::new(GROUP, DataType::Int32, false)));
        }
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        Ok(Self {
            schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            read: Arc::new(Schema::new_with_metadata(with(&dictionary), schema.metadata().clone())),
            coded: by_index,
            group,
            table,
        })
    }

    fn pinned(&self) -> Result<&PinnedTable> {
        match (self.table.as_ref() as &dyn Any).downcast_ref::<PinnedTable>() {
            Some(p) => Ok(p),
            None => internal_err!("a coded table is made from a pinned table"),
        }
    }
}

#[async_trait]
impl TableProvider for CodedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns = self.read.fields().len();
        let wanted: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        // the file columns to read: those wanted, and the group key's
        let mut read: Vec<usize> = wanted.iter().copied().filter(|&i| i < columns).collect();
        if let Some((key, _)) = &self.group {
            read.extend(key.iter().copied());
        }
        read.sort_unstable();
        read.dedup();
        let at = |i: usize| read.iter().position(|&r| r == i).unwrap_or_default();
        let coded: Vec<usize> = self.coded.keys().copied().collect();
        let scan = self.pinned()?.scan_as(state, &self.read, &coded, Some(&read), limit).await?;
        let output: Vec<Out> = wanted
            .iter()
            .map(|&i| match self.coded.get(&i) {
                _ if i >= columns => Out::Group,
                Some(interner) => Out::Code(at(i), Arc::clone(interner)),
                None => Out::Pass(at(i)),
            })
            .collect();
        let group = self.group.as_ref().map(|(key, tuples)| {
            let parts = key.iter().map(|&i| (at(i), self.coded.get(&i).cloned())).collect();
            (parts, Arc::clone(tuples))
        });
        Ok(Arc::new(CodeExec::new(scan, output, group, self.schema.project(&wanted)?.into())))
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    fn statistics(&self) -> Option<Statistics> {
        let coded: Vec<usize> = self.coded.keys().copied().collect();
        let mut stats = without_bounds(&self.pinned().ok()?.statistics()?, &coded);
        if self.group.is_some() {
            stats.column_statistics.push(Default::default());
        }
        Some(stats)
    }
}

/// `stats` without the bounds of the `coded` columns, which are strings and
/// not codes.
pub(crate) fn without_bounds(stats: &Statistics, coded: &[usize]) -> Statistics {
    let mut stats = stats.clone();
    for &i in coded {
        if let Some(c) = stats.column_statistics.get_mut(i) {
            c.min_value = Precision::Absent;
            c.max_value = Precision::Absent;
            c.sum_value = Precision::Absent;
        }
    }
    stats
}

/// One output column of a [`CodeExec`].
#[derive(Debug, Clone)]
enum Out {
    /// The scan's column, as it is.
    Pass(usize),
    /// The scan's column (a dictionary), as codes.
    Code(usize, Arc<Interner>),
    /// The group key's code.
    Group,
}

/// A group key: its columns in the scan (with their codes, if coded) and the keys' codes.
type Key = (Vec<(usize, Option<Arc<Interner>>)>, Arc<Tuples>);

/// Turns the dictionary columns of a coded table's scan into codes, and
/// the group key's columns into the key's code.
#[derive(Debug, Clone)]
pub struct CodeExec {
    input: Arc<dyn ExecutionPlan>,
    output: Vec<Out>,
    group: Option<Key>,
    properties: Arc<PlanProperties>,
}

impl CodeExec {
    fn new(input: Arc<dyn ExecutionPlan>, output: Vec<Out>, group: Option<Key>, schema: SchemaRef) -> Self {
        let p = input.properties();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(p.output_partitioning().partition_count()),
            p.emission_type,
            p.boundedness,
        ));
        Self { input, output, group, properties }
    }

    fn encode(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let mut codes: HashMap<usize, ArrayRef> = HashMap::new();
        let mut code = |at: usize, interner: &Interner| -> Result<ArrayRef> {
            if let Some(c) = codes.get(&at) {
                return Ok(Arc::clone(c));
            }
            let c = interner.encode(batch.column(at))?;
            codes.insert(at, Arc::clone(&c));
            Ok(c)
        };
        let group: Option<ArrayRef> = match &self.group {
            None => None,
            Some((parts, tuples)) => {
                let mut columns = Vec::with_capacity(parts.len());
                for (at, interner) in parts {
                    columns.push(match interner {
                        Some(i) => code(*at, i)?,
                        None => cast(batch.column(*at), &DataType::Int32)?,
                    });
                }
                let columns: Vec<&Int32Array> = columns.iter().map(|c| c.as_primitive::<Int32Type>()).collect();
                Some(Arc::new(tuples.encode(&columns, batch.num_rows())?))
            }
        };
        let columns = self
            .output
            .iter()
            .map(|o| match o {
                Out::Pass(at) => Ok(Arc::clone(batch.column(*at))),
                Out::Code(at, interner) => code(*at, interner),
                Out::Group => match &group {
                    Some(g) => Ok(Arc::clone(g)),
                    None => internal_err!("a group key column without a group key"),
                },
            })
            .collect::<Result<Vec<_>>>()?;
        let options = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(self.schema(), columns, &options)?)
    }
}

impl DisplayAs for CodeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let columns: Vec<&str> = self
            .output
            .iter()
            .filter_map(|o| match o {
                Out::Code(_, i) => Some(i.column()),
                _ => None,
            })
            .collect();
        write!(f, "CodeExec: codes=[{}]", columns.join(", "))?;
        if let Some((_, tuples)) = &self.group {
            let key: Vec<&str> = tuples.parts.iter().map(|(n, _)| n.as_str()).collect();
            write!(f, ", group_key=[{}]", key.join(", "))?;
        }
        Ok(())
    }
}

impl ExecutionPlan for CodeExec {
    fn name(&self) -> &str {
        "CodeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("CodeExec has one input, not {}", children.len());
        }
        let input = children.swap_remove(0);
        Ok(match options.children_properties {
            ChildrenPropertiesMode::Keep => Arc::new(Self { input, ..Self::clone(&self) }),
            ChildrenPropertiesMode::Recompute => {
                Arc::new(Self::new(input, self.output.clone(), self.group.clone(), self.schema()))
            }
        })
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let this = self.clone();
        let batches = input.map(move |b| b.and_then(|b| this.encode(b)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), batches)))
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let Some(input) = input_stats.first() else {
            return Err(DataFusionError::Internal("CodeExec has one input".into()));
        };
        // the scan's statistics already leave out the coded columns' bounds
        let column = |at: &usize| input.column_statistics.get(*at).cloned().unwrap_or_default();
        let column_statistics = self
            .output
            .iter()
            .map(|o| match o {
                Out::Pass(at) | Out::Code(at, _) => column(at),
                Out::Group => Default::default(),
            })
            .collect();
        Ok(Arc::new(Statistics { num_rows: input.num_rows, total_byte_size: Precision::Absent, column_statistics }))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{DictionaryArray, StringArray};

    use super::*;

    fn codes(a: &ArrayRef) -> Vec<Option<i32>> {
        a.as_primitive::<Int32Type>().iter().collect()
    }

    #[test]
    fn a_dictionary_is_coded_by_its_values_and_decoded_back() {
        let i = Interner::new("outcome");
        // two batches whose dictionaries list the same values in another order
        let a: DictionaryArray<Int32Type> =
            vec![Some("landed"), None, Some("lost_at_sea"), Some("landed")].into_iter().collect();
        let b: DictionaryArray<Int32Type> =
            vec![Some("lost_at_sea"), Some("landed"), Some("rescued_at_sea")].into_iter().collect();
        let (a, b) = (i.encode(&(Arc::new(a) as ArrayRef)).unwrap(), i.encode(&(Arc::new(b) as ArrayRef)).unwrap());
        assert_eq!(codes(&a), [Some(0), None, Some(1), Some(0)]);
        assert_eq!(codes(&b), [Some(1), Some(0), Some(2)]);
        let back: Vec<Option<String>> =
            i.decode(b.as_primitive::<Int32Type>()).unwrap().iter().map(|v| v.map(str::to_string)).collect();
        assert_eq!(back, [Some("lost_at_sea".into()), Some("landed".into()), Some("rescued_at_sea".into())]);
    }

    #[test]
    fn plain_strings_and_a_dictionary_with_a_null_value_are_coded_alike() {
        let i = Interner::new("partner_member");
        let plain: ArrayRef = Arc::new(StringViewArray::from(vec![Some("IDN"), None, Some("AUS")]));
        assert_eq!(codes(&i.encode(&plain).unwrap()), [Some(0), None, Some(1)]);
        let utf8: ArrayRef = Arc::new(StringArray::from(vec![Some("AUS"), Some("NZL")]));
        assert_eq!(codes(&i.encode(&utf8).unwrap()), [Some(1), Some(2)]);
        // a dictionary whose values hold a null: rows pointing at it are null
        let values: ArrayRef = Arc::new(StringArray::from(vec![None, Some("NZL")]));
        let dict = DictionaryArray::<Int32Type>::try_new(Int32Array::from(vec![1, 0, 1]), values).unwrap();
        assert_eq!(codes(&i.encode(&(Arc::new(dict) as ArrayRef)).unwrap()), [Some(2), None, Some(2)]);
    }

    #[test]
    fn a_code_never_handed_out_is_an_error_not_a_guess() {
        let i = Interner::new("sex");
        i.code("female").unwrap();
        let err = i.decode(&Int32Array::from(vec![0, 7])).unwrap_err().to_string();
        assert!(err.contains("sex") && err.contains('7'), "{err}");
    }

    fn keys(t: &Tuples, columns: &[&Int32Array]) -> Vec<i32> {
        t.encode(columns, columns[0].len()).unwrap().values().to_vec()
    }

    #[test]
    fn group_keys_are_coded_alike_densely_and_row_by_row() {
        let member = Arc::new(Interner::new("reporting_member"));
        let t = Tuples::new(vec![("reference_year".into(), None), ("reporting_member".into(), Some(member))]);
        // a batch of one year and member, with a null member
        let (y, m) = (Int32Array::from(vec![2012, 2012, 2012]), Int32Array::from(vec![Some(4), None, Some(4)]));
        assert_eq!(keys(&t, &[&y, &m]), [0, 1, 0]);
        // one key for a whole batch
        let (y, m) = (Int32Array::from(vec![2012, 2012]), Int32Array::from(vec![4, 4]));
        assert_eq!(keys(&t, &[&y, &m]), [0, 0]);
        // years too far apart for a dense numbering: looked up row by row, same codes
        let (y, m) = (
            Int32Array::from(vec![-2_000_000_000, 2012, 2_000_000_000]),
            Int32Array::from(vec![Some(4), None, Some(4)]),
        );
        assert_eq!(keys(&t, &[&y, &m]), [2, 1, 3]);
        let part = KeyPart::new(Arc::new(t), 0, Arc::new(Field::new("reference_year", DataType::Int32, false)));
        let years = part.values(&Int32Array::from(vec![3, 0, 1])).unwrap();
        assert_eq!(years.as_primitive::<Int32Type>().values().to_vec(), [2_000_000_000, 2012, 2012]);
        assert!(part.values(&Int32Array::from(vec![9])).is_err(), "a key never handed out");
    }
}
