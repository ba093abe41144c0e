//! `results.parquet`: the results table for dataframe tools (polars, pandas, DuckDB), with the
//! columns and rows of `results.csv`: strings as UTF-8, `fraction` and `value` as doubles,
//! `seed` as a 64-bit integer; `fraction` and `seed` are null on the victim's rows.

use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::results::Row;

const SCHEMA: &str = "message results {
    REQUIRED BYTE_ARRAY experiment (UTF8);
    REQUIRED BYTE_ARRAY setting (UTF8);
    REQUIRED BYTE_ARRAY evaluation (UTF8);
    REQUIRED BYTE_ARRAY attack (UTF8);
    REQUIRED BYTE_ARRAY cell (UTF8);
    REQUIRED BYTE_ARRAY model (UTF8);
    REQUIRED BYTE_ARRAY test_set (UTF8);
    REQUIRED BYTE_ARRAY compared_to (UTF8);
    REQUIRED BYTE_ARRAY metric (UTF8);
    REQUIRED BYTE_ARRAY convention (UTF8);
    OPTIONAL DOUBLE fraction;
    REQUIRED BYTE_ARRAY augmentation (UTF8);
    REQUIRED BYTE_ARRAY defense (UTF8);
    OPTIONAL INT64 seed;
    REQUIRED DOUBLE value;
}";

/// The rows as a Parquet file (one row group, uncompressed, so equal rows give equal bytes).
pub fn parquet(rows: &[Row]) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_created_by(format!("heist {}", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, properties)?;
    let mut group = writer.next_row_group()?;
    let text = |f: fn(&Row) -> &str| -> Vec<ByteArray> {
        rows.iter().map(|r| ByteArray::from(f(r))).collect()
    };
    let mut column = 0;
    while let Some(mut w) = group.next_column()? {
        match column {
            10 => {
                let present: Vec<f64> = rows.iter().filter_map(|r| r.fraction).collect();
                let levels: Vec<i16> = rows
                    .iter()
                    .map(|r| i16::from(r.fraction.is_some()))
                    .collect();
                w.typed::<DoubleType>()
                    .write_batch(&present, Some(&levels), None)?;
            }
            13 => {
                let present: Vec<i64> = rows
                    .iter()
                    .filter_map(|r| r.seed.map(|s| s as i64))
                    .collect();
                let levels: Vec<i16> = rows.iter().map(|r| i16::from(r.seed.is_some())).collect();
                w.typed::<Int64Type>()
                    .write_batch(&present, Some(&levels), None)?;
            }
            14 => {
                let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
                w.typed::<DoubleType>().write_batch(&values, None, None)?;
            }
            i => {
                let values = match i {
                    0 => text(|r| &r.experiment),
                    1 => text(|r| &r.setting),
                    2 => text(|r| &r.evaluation),
                    3 => text(|r| &r.attack),
                    4 => text(|r| &r.cell),
                    5 => text(|r| &r.model),
                    6 => text(|r| &r.test_set),
                    7 => text(|r| &r.compared_to),
                    8 => text(|r| &r.metric),
                    9 => text(|r| &r.convention),
                    11 => text(|r| &r.augmentation),
                    _ => text(|r| &r.defense),
                };
                w.typed::<ByteArrayType>()
                    .write_batch(&values, None, None)?;
            }
        }
        w.close()?;
        column += 1;
    }
    group.close()?;
    writer.into_inner()
}
