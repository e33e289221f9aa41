//! Reads one row from an LDB, as an application would.
//!
//!     cargo run -p ctlstore-reader --example read_flag -- /tmp/ctlstore/ldb.db demo flags new-ui
//!
//! Arguments: the LDB path, the family, the table, then the key fields (integers are read as
//! integers, everything else as text).

use ctlstore_reader::{Key, Reader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, family, table, key @ ..] = args.as_slice() else {
        eprintln!("usage: read_flag LDB_PATH FAMILY TABLE KEY...");
        std::process::exit(2);
    };
    let key: Vec<Key> = key
        .iter()
        .map(|k| {
            k.parse::<i64>()
                .map(Key::from)
                .unwrap_or_else(|_| Key::from(k.as_str()))
        })
        .collect();
    let reader = Reader::open(path)?;
    match reader.get_row(family, table, &key)? {
        Some(row) => {
            for (column, value) in row {
                println!("{column} = {value:?}");
            }
        }
        None => println!("no such row"),
    }
    match reader.ledger_latency() {
        Ok(latency) => println!(
            "ledger latency: {latency:?} (seq {})",
            reader.last_sequence()?
        ),
        Err(e) => println!("ledger latency: {e}"),
    }
    Ok(())
}
