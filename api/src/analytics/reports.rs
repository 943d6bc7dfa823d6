//! Scheduled reports (docs/analytics.md, "Reports"): daily and weekly mails with the key figures,
//! a chart of conversations and the busiest agents, to the members an admin chose, each in the
//! member's language, queued in the outbox. Every node's worker takes due reports from
//! `control.report_subscriptions` (`skip locked`) and queues the mails and the next due time in
//! one control transaction, so a report is sent once whichever node takes it.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::report::{self, Dashboard, Metrics};
use super::{chart, refresh};
use crate::db::analytics_read::Scope;
use crate::db::{self, Databases, TenantTx};

/// Local hour reports are sent at (the day's or the week's figures are complete by then).
pub const SEND_HOUR: u32 = 8;
/// Reports handled per round.
const ROUND: usize = 5;

/// When a `kind` report is next due after now, in `timezone`: 08:00 tomorrow (or today, before
/// 08:00) for daily ones, Monday 08:00 for weekly ones.
pub async fn next_due(tx: &mut TenantTx, timezone: &str, kind: &str) -> sqlx::Result<DateTime<Utc>> {
    db::reports::next_local(tx, timezone, kind == "weekly", SEND_HOUR).await
}

/// Runs the report worker every `every` until `shutdown`; `mail` wakes the mail sender.
pub fn start(databases: Databases, app_url: String, every: Duration, mail: Arc<Notify>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            match send_due(&databases, &app_url).await {
                Ok(0) => {}
                Ok(_) => mail.notify_one(),
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "sending reports failed; the next round retries")
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// Sends the reports due now, each in its own control transaction; returns how many mails were
/// queued. A report that fails is tried again in 15 minutes, so one tenant's trouble never holds
/// up the others' reports.
pub async fn send_due(databases: &Databases, app_url: &str) -> anyhow::Result<usize> {
    let mut queued = 0;
    for _ in 0..ROUND {
        let mut control = databases.control().begin().await?;
        let Some(report) = db::reports::claim_due(&mut control, 1).await?.into_iter().next() else {
            break;
        };
        match send_one(databases, &mut control, &report, app_url).await {
            Ok(mails) => {
                control.commit().await?;
                queued += mails;
            }
            Err(error) => {
                drop(control);
                tracing::warn!(error = format!("{error:#}"), tenant = %report.tenant_id, kind = %report.kind,
                    "a report failed; it is tried again in 15 minutes");
                let mut conn = databases.control().acquire().await?;
                let later = chrono::Utc::now() + chrono::Duration::minutes(15);
                db::reports::reschedule(&mut conn, report.tenant_id, &report.kind, later, false).await?;
            }
        }
    }
    Ok(queued)
}

/// Queues one report's mails and its next due time in `control`; returns how many mails.
async fn send_one(
    databases: &Databases,
    control: &mut sqlx::PgConnection,
    report: &db::reports::Due,
    app_url: &str,
) -> anyhow::Result<usize> {
    let included = db::plans::has_feature(control, report.tenant_id, crate::billing::Feature::AnalyticsExport.as_str());
    let schema = if included.await? { db::tenants::active_schema(databases, report.tenant_id).await? } else { None };
    let Some(schema) = schema else {
        // A suspended tenant, or one whose plan lost scheduled reports, gets them again once
        // active or upgraded.
        let tomorrow = report.next_at + chrono::Duration::days(1);
        db::reports::reschedule(control, report.tenant_id, &report.kind, tomorrow, false).await?;
        return Ok(0);
    };
    refresh::refresh(databases, &schema, Some(50)).await?;
    let weekly = report.kind == "weekly";
    let mut tx = TenantTx::begin(databases, &schema).await?;
    let timezone = refresh::timezone_of(&mut tx).await?;
    let today = db::analytics_read::today(&mut tx, &timezone).await?;
    let to_day = today.pred_opt().unwrap_or(today);
    let from_day = if weekly { to_day - chrono::Days::new(6) } else { to_day };
    let (from, to) = db::analytics_read::bounds(&mut tx, &timezone, from_day, to_day).await?;
    let scope = Scope { from, to, from_day, to_day, timezone: timezone.clone(), team: None, agent: None };
    let dashboard =
        report::dashboard(&mut tx, &scope, weekly, refresh::Freshness { through: None, complete: true }).await?;
    let next = next_due(&mut tx, &timezone, &report.kind).await?;
    tx.commit().await?;
    let company = db::tenants::find(control, report.tenant_id).await?.map(|t| t.name).unwrap_or_default();
    let png = chart::bars(
        &buckets(&dashboard, from, weekly, |m| m.conversations),
        &buckets(&dashboard, from, weekly, |m| m.missed),
    )
    .ok();
    let link = format!("{app_url}/analytics?from={from_day}&to={to_day}");
    let mut queued = 0;
    for recipient in db::reports::recipients(control, report.tenant_id, &report.recipients).await? {
        let mail = render(
            &Report { dashboard: &dashboard, company: &company, weekly, link: &link },
            recipient.language.as_deref(),
        );
        db::outbox::enqueue_rich(
            control,
            Some(report.tenant_id),
            &recipient.email,
            &mail.subject,
            &mail.text,
            &mail.html,
            png.as_deref(),
        )
        .await?;
        queued += 1;
    }
    db::reports::reschedule(control, report.tenant_id, &report.kind, next, true).await?;
    metrics::counter!("kefu_reports_sent_total", "kind" => report.kind.clone()).increment(1);
    Ok(queued)
}

/// One value per bucket of the report's chart, from the period's start `origin`: the 24 hours of
/// the day or the 7 days, zero where nothing happened.
fn buckets(dashboard: &Dashboard, origin: DateTime<Utc>, weekly: bool, value: impl Fn(&Metrics) -> i64) -> Vec<i64> {
    let (count, step) = if weekly { (7, 86_400) } else { (24, 3_600) };
    let mut values = vec![0; count];
    for point in &dashboard.series {
        let secs = (point.at - origin).num_seconds();
        // Days are local midnights, 23 or 25 hours apart across a daylight saving change.
        let index = if weekly { (secs + step / 2).div_euclid(step) } else { secs.div_euclid(step) };
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| values.get_mut(i)) {
            *slot += value(&point.metrics);
        }
    }
    values
}

/// What a report mail says.
pub struct Report<'a> {
    /// The figures.
    pub dashboard: &'a Dashboard,
    /// The tenant's name.
    pub company: &'a str,
    /// A weekly (else daily) report.
    pub weekly: bool,
    /// The analytics page for the period.
    pub link: &'a str,
}

/// A rendered report mail.
pub struct Rendered {
    /// Subject.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML showing `cid:chart`.
    pub html: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    En,
    Zh,
}

/// Renders a report in `language` (`en`, `zh-CN`), or in both when it is not known.
pub fn render(report: &Report<'_>, language: Option<&str>) -> Rendered {
    let langs: &[Lang] = match language {
        Some("zh-CN") => &[Lang::Zh],
        Some(_) => &[Lang::En],
        None => &[Lang::En, Lang::Zh],
    };
    let subject = langs.iter().map(|l| subject(report, *l)).collect::<Vec<_>>().join(" / ");
    let text = langs.iter().map(|l| text(report, *l)).collect::<Vec<_>>().join("\n\n----\n\n");
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',sans-serif;color:#1f1f1f;max-width:640px;margin:0 auto;padding:16px\">",
    );
    for (i, lang) in langs.iter().enumerate() {
        if i > 0 {
            html.push_str("<hr style=\"border:none;border-top:1px solid #e8e8e8;margin:24px 0\">");
        }
        html.push_str(&html_part(report, *lang, i == 0));
    }
    html.push_str("</body></html>");
    Rendered { subject, text, html }
}

fn period(report: &Report<'_>, lang: Lang) -> String {
    let day = |d: NaiveDate| match lang {
        Lang::En => d.format("%a %-d %b %Y").to_string(),
        Lang::Zh => d.format("%Y年%-m月%-d日").to_string(),
    };
    if report.weekly {
        format!("{} – {}", day(report.dashboard.from), day(report.dashboard.to))
    } else {
        day(report.dashboard.from)
    }
}

fn subject(report: &Report<'_>, lang: Lang) -> String {
    let n = report.dashboard.totals.conversations;
    match (lang, report.weekly) {
        (Lang::En, false) => {
            format!("Daily report for {}: {} — {n} conversations", report.company, period(report, lang))
        }
        (Lang::En, true) => {
            format!("Weekly report for {}: {} — {n} conversations", report.company, period(report, lang))
        }
        (Lang::Zh, false) => format!("{} 客服日报：{}，{n} 个会话", report.company, period(report, lang)),
        (Lang::Zh, true) => format!("{} 客服周报：{}，{n} 个会话", report.company, period(report, lang)),
    }
}

/// A duration in words.
fn duration(secs: Option<f64>, lang: Lang) -> String {
    let Some(secs) = secs.filter(|s| s.is_finite()) else { return "–".into() };
    let whole = secs.round() as i64;
    let (m, s) = (whole / 60, whole % 60);
    let (h, m2) = (m / 60, m % 60);
    match lang {
        Lang::En if whole < 60 => format!("{whole} s"),
        Lang::En if m < 60 => format!("{m} min {s} s"),
        Lang::En => format!("{h} h {m2} min"),
        Lang::Zh if whole < 60 => format!("{whole}秒"),
        Lang::Zh if m < 60 => format!("{m}分{s}秒"),
        Lang::Zh => format!("{h}小时{m2}分"),
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "–".into(), |s| format!("{:.1}%", s * 100.0))
}

/// The change against the previous period, in words.
fn change(now: Option<f64>, before: Option<f64>, lang: Lang) -> String {
    match (now, before) {
        (Some(now), Some(before)) if before != 0.0 => {
            let pct = (now - before) / before * 100.0;
            match lang {
                Lang::En => format!("{pct:+.0}% vs previous"),
                Lang::Zh => format!("较上期 {pct:+.0}%"),
            }
        }
        _ => String::new(),
    }
}

/// The figures as (label, value, change) rows.
fn figures(report: &Report<'_>, lang: Lang) -> Vec<(&'static str, String, String)> {
    let (n, p) = (&report.dashboard.totals, &report.dashboard.previous);
    let count = |v: i64| Some(v as f64);
    let zh = lang == Lang::Zh;
    vec![
        (
            if zh { "会话数" } else { "Conversations" },
            n.conversations.to_string(),
            change(count(n.conversations), count(p.conversations), lang),
        ),
        (
            if zh { "未接待会话" } else { "Missed chats" },
            n.missed.to_string(),
            change(count(n.missed), count(p.missed), lang),
        ),
        (
            if zh { "首次响应" } else { "First response" },
            duration(n.first_response_secs, lang),
            change(n.first_response_secs, p.first_response_secs, lang),
        ),
        (
            if zh { "平均响应" } else { "Response time" },
            duration(n.response_secs, lang),
            change(n.response_secs, p.response_secs, lang),
        ),
        (
            if zh { "解决率" } else { "Resolved" },
            percent(n.resolution_rate),
            change(n.resolution_rate, p.resolution_rate, lang),
        ),
        (
            if zh { "满意度" } else { "CSAT" },
            format!("{} ({} {})", percent(n.csat), n.rated, if zh { "条评价" } else { "rated" }),
            change(n.csat, p.csat, lang),
        ),
        (
            if zh { "机器人解决率" } else { "Bot resolved" },
            percent(n.bot_resolution_rate),
            change(n.bot_resolution_rate, p.bot_resolution_rate, lang),
        ),
    ]
}

/// The five busiest agents: name, conversations, first response, CSAT.
fn agents(report: &Report<'_>, lang: Lang) -> Vec<(String, i64, String, String)> {
    report
        .dashboard
        .agents
        .iter()
        .filter(|a| a.user_id.is_some())
        .take(5)
        .map(|a| {
            (
                a.name.clone().unwrap_or_else(|| {
                    if lang == Lang::Zh { "已离开的成员".into() } else { "Former member".into() }
                }),
                a.metrics.conversations,
                duration(a.metrics.first_response_secs, lang),
                percent(a.metrics.csat),
            )
        })
        .collect()
}

fn text(report: &Report<'_>, lang: Lang) -> String {
    let mut out = String::new();
    let zh = lang == Lang::Zh;
    let _ = writeln!(out, "{}", subject(report, lang));
    let _ = writeln!(
        out,
        "{}\n",
        if zh {
            format!("时区：{}", report.dashboard.timezone)
        } else {
            format!("Time zone: {}", report.dashboard.timezone)
        }
    );
    let colon = if zh { "：" } else { ": " };
    for (label, value, delta) in figures(report, lang) {
        let _ = writeln!(
            out,
            "{label}{colon}{value}{}",
            if delta.is_empty() { String::new() } else { format!(" ({delta})") }
        );
    }
    let busiest = agents(report, lang);
    if !busiest.is_empty() {
        let _ = writeln!(out, "\n{}", if zh { "接待最多的客服：" } else { "Busiest agents:" });
        for (name, n, first, csat) in busiest {
            let _ = writeln!(
                out,
                "- {name}: {n} {}, {} {first}, CSAT {csat}",
                if zh { "个会话" } else { "conversations" },
                if zh { "首次响应" } else { "first response" }
            );
        }
    }
    let _ = write!(out, "\n{} {}", if zh { "查看图表与明细：" } else { "Charts and details:" }, report.link);
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html_part(report: &Report<'_>, lang: Lang, with_chart: bool) -> String {
    let zh = lang == Lang::Zh;
    let mut out = format!(
        "<h2 style=\"font-size:18px;margin:0 0 4px\">{}</h2><p style=\"color:#8c8c8c;margin:0 0 16px\">{}</p>",
        escape(&subject(report, lang)),
        escape(&if zh {
            format!("时区：{}", report.dashboard.timezone)
        } else {
            format!("Time zone: {}", report.dashboard.timezone)
        })
    );
    out.push_str("<table role=\"presentation\" style=\"border-collapse:collapse;width:100%;margin-bottom:16px\">");
    for (label, value, delta) in figures(report, lang) {
        let _ = write!(
            out,
            "<tr><td style=\"padding:6px 0;border-bottom:1px solid #f0f0f0\">{}</td><td style=\"padding:6px 0;border-bottom:1px solid #f0f0f0;text-align:right;font-weight:600\">{}</td><td style=\"padding:6px 0 6px 12px;border-bottom:1px solid #f0f0f0;text-align:right;color:#8c8c8c;font-size:12px\">{}</td></tr>",
            escape(label),
            escape(&value),
            escape(&delta)
        );
    }
    out.push_str("</table>");
    if with_chart {
        let (first, last) = if report.weekly {
            (report.dashboard.from.format("%m-%d").to_string(), report.dashboard.to.format("%m-%d").to_string())
        } else {
            ("00:00".to_owned(), "23:00".to_owned())
        };
        let alt =
            if zh { "会话量柱状图（橙色为未接待）" } else { "Conversations per bucket (orange: missed)" };
        let _ = write!(
            out,
            "<p style=\"margin:0 0 4px;font-weight:600\">{}</p><img src=\"cid:chart\" width=\"600\" height=\"180\" alt=\"{}\" style=\"display:block;width:100%;max-width:600px;height:auto\"><table role=\"presentation\" style=\"width:100%;max-width:600px;color:#8c8c8c;font-size:12px\"><tr><td>{}</td><td style=\"text-align:right\">{}</td></tr></table>",
            if zh {
                if report.weekly { "每日会话量" } else { "每小时会话量" }
            } else if report.weekly {
                "Conversations per day"
            } else {
                "Conversations per hour"
            },
            escape(alt),
            escape(&first),
            escape(&last)
        );
    }
    let busiest = agents(report, lang);
    if !busiest.is_empty() {
        let _ = write!(
            out,
            "<p style=\"margin:16px 0 4px;font-weight:600\">{}</p><table style=\"border-collapse:collapse;width:100%;font-size:14px\"><tr style=\"color:#8c8c8c\"><th style=\"text-align:left\">{}</th><th style=\"text-align:right\">{}</th><th style=\"text-align:right\">{}</th><th style=\"text-align:right\">CSAT</th></tr>",
            if zh { "接待最多的客服" } else { "Busiest agents" },
            if zh { "客服" } else { "Agent" },
            if zh { "会话" } else { "Conversations" },
            if zh { "首次响应" } else { "First response" }
        );
        for (name, n, first, csat) in busiest {
            let _ = write!(
                out,
                "<tr><td>{}</td><td style=\"text-align:right\">{n}</td><td style=\"text-align:right\">{}</td><td style=\"text-align:right\">{}</td></tr>",
                escape(&name),
                escape(&first),
                escape(&csat)
            );
        }
        out.push_str("</table>");
    }
    let _ = write!(
        out,
        "<p style=\"margin-top:20px\"><a href=\"{}\" style=\"color:#1677ff\">{}</a></p>",
        escape(report.link),
        if zh { "在控制台查看图表与明细" } else { "See the charts and details in the console" }
    );
    out
}
