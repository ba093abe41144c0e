//! How numbers are printed for people and for machines.

pub fn json_line<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .map(|s| s + "\n")
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"))
}

/// Metric values: four decimals, `inf` for identical images.
pub fn fixed(v: f64) -> String {
    if v.is_infinite() {
        "inf".into()
    } else {
        format!("{v:.4}")
    }
}

/// Statistics as a paper writes them: two decimals.
pub fn short(v: f64) -> String {
    format!("{v:.2}")
}

/// p-values: three significant decimals, scientific below 0.001.
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}
