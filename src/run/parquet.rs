//! `results.parquet`: the results table for dataframe tools (polars, pandas, DuckDB), with the
//! columns and rows of `results.csv`: strings as UTF-8, `fraction` and `value` as doubles,
//! `seed` as a 64-bit integer; `fraction` and `seed` are null on the victim's rows.

use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::results::{Row, COLUMNS};

/// The Parquet schema of [`COLUMNS`]: numbers typed, the rest UTF-8 text.
fn schema() -> String {
    let fields: Vec<String> = COLUMNS
        .iter()
        .map(|c| match *c {
            "fraction" => "OPTIONAL DOUBLE fraction;".to_string(),
            "seed" => "OPTIONAL INT64 seed;".to_string(),
            "value" => "REQUIRED DOUBLE value;".to_string(),
            text => format!("REQUIRED BYTE_ARRAY {text} (UTF8);"),
        })
        .collect();
    format!("message results {{ {} }}", fields.join(" "))
}

/// The rows as a Parquet file (one row group, uncompressed, so equal rows give equal bytes).
pub fn parquet(rows: &[Row]) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let schema = Arc::new(parse_message_type(&schema())?);
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_created_by(format!("heist {}", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, properties)?;
    let mut group = writer.next_row_group()?;
    for column in COLUMNS {
        let mut w = group.next_column()?.expect("one writer per column");
        match column {
            "fraction" => {
                let present: Vec<f64> = rows.iter().filter_map(|r| r.fraction).collect();
                let levels: Vec<i16> = rows
                    .iter()
                    .map(|r| i16::from(r.fraction.is_some()))
                    .collect();
                w.typed::<DoubleType>()
                    .write_batch(&present, Some(&levels), None)?;
            }
            "seed" => {
                let present: Vec<i64> = rows
                    .iter()
                    .filter_map(|r| r.seed.map(|s| s as i64))
                    .collect();
                let levels: Vec<i16> = rows.iter().map(|r| i16::from(r.seed.is_some())).collect();
                w.typed::<Int64Type>()
                    .write_batch(&present, Some(&levels), None)?;
            }
            "value" => {
                let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
                w.typed::<DoubleType>().write_batch(&values, None, None)?;
            }
            text => {
                let values: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| ByteArray::from(r.text(text).as_str()))
                    .collect();
                w.typed::<ByteArrayType>()
                    .write_batch(&values, None, None)?;
            }
        }
        w.close()?;
    }
    group.close()?;
    writer.into_inner()
}
