//! Transfer progress for uploads and downloads: a bar on a terminal, a log line every 10 %.

/// A progress bar on a terminal; nothing otherwise (the log lines below carry the progress).
pub(crate) fn progress_bar(what: &str, total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// Logs progress every 10 % (a terminal user sees it as it goes; logs get a line each step).
pub(crate) fn progress(what: &str, done: u64, total: u64, started: std::time::Instant) {
    if total == 0 {
        return;
    }
    let step = (total / 10).max(1);
    let before = done.saturating_sub(4 * 1024 * 1024);
    if done / step != before / step || done == total {
        tracing::info!(
            what,
            done_mib = done / (1024 * 1024),
            total_mib = total / (1024 * 1024),
            percent = done * 100 / total,
            seconds = started.elapsed().as_secs_f64(),
            "snapshot transfer"
        );
    }
}
