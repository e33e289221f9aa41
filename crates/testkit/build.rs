//! Turns the backend URLs in the environment into cfgs, so that a backend whose server is not
//! configured shows up in `cargo test` as an *ignored* suite with the reason, rather than a
//! silent pass.

fn main() {
    for (var, cfg) in [
        ("CTLSTORE_TEST_MYSQL_URL", "ctlstore_mysql"),
        ("CTLSTORE_TEST_POSTGRES_URL", "ctlstore_postgres"),
        ("CTLSTORE_TEST_S3", "ctlstore_s3"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={var}");
        if std::env::var(var).is_ok_and(|v| !v.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
