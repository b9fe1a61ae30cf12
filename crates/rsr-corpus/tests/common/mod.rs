//! Shared by the reader tests: a Parquet file of string columns.

use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::sync::Arc;

/// Parquet bytes with one required UTF-8 column per `(name, values)`, in one row group.
pub fn parquet_bytes(columns: &[(&str, Vec<String>)]) -> Vec<u8> {
    let fields: String = columns.iter().map(|(n, _)| format!("required binary {n} (UTF8); ")).collect();
    let schema = Arc::new(parse_message_type(&format!("message doc {{ {fields}}}")).unwrap());
    let mut buf = Vec::new();
    {
        let mut w = SerializedFileWriter::new(&mut buf, schema, Arc::new(WriterProperties::builder().build())).unwrap();
        let mut rg = w.next_row_group().unwrap();
        let mut k = 0;
        while let Some(mut col) = rg.next_column().unwrap() {
            let values: Vec<ByteArray> = columns[k].1.iter().map(|v| ByteArray::from(v.as_str())).collect();
            col.typed::<ByteArrayType>().write_batch(&values, None, None).unwrap();
            col.close().unwrap();
            k += 1;
        }
        rg.close().unwrap();
        w.close().unwrap();
    }
    buf
}
