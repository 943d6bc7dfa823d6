//! `kefu-search-bench`: history search at scale (docs/benchmarks.md, "Search"). In a scratch
//! database it fills one tenant with realistic customer-service conversations (mixed Chinese and
//! English, a year of history, agents, tags, ratings), indexes them with the indexer the nodes
//! run, and times typical searches through the endpoint's own code path (query parsing, the
//! search, loading the page, snippets), printing p50/p95/max per query and the index's size.
//!
//! Example: `kefu-search-bench --messages 1000000 --runs 30`

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Parser;
use kefu_api::db::{self, TenantSchema};
use kefu_api::http::search::SearchQuery;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgPool};

#[derive(Parser, Debug)]
#[command(about = "History search at scale: fill one tenant, index it, time typical searches")]
struct Args {
    /// Messages to generate.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Timed runs per query (after three warm-up runs).
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Postgres to create the scratch database next to.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Keep the scratch database afterwards (its name is printed).
    #[arg(long)]
    keep: bool,
}

/// Agents of the generated tenant.
const AGENTS: usize = 20;
/// Conversations inserted per transaction.
const CONVERSATIONS_PER_BATCH: usize = 1_000;

const PRODUCTS: &[&str] = &[
    "无线耳机",
    "蓝牙音箱",
    "智能手表",
    "保温杯",
    "机械键盘",
    "iPhone 15",
    "羽绒服",
    "运动鞋",
    "空气炸锅",
    "扫地机器人",
    "电动牙刷",
    "行李箱",
    "儿童座椅",
    "咖啡机",
    "显示器",
];
const PRODUCTS_EN: &[&str] = &[
    "wireless earbuds",
    "smart watch",
    "air fryer",
    "mechanical keyboard",
    "running shoes",
    "coffee machine",
    "monitor",
];
const COLORS: &[&str] = &["黑色", "白色", "蓝色", "粉色", "灰色"];
const CITIES: &[&str] =
    &["上海市浦东新区", "北京市朝阳区", "深圳市南山区", "杭州市西湖区", "成都市武侯区", "广州市天河区"];
const CITIES_EN: &[&str] = &["Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Singapore", "London"];
const COMPANIES: &[&str] =
    &["上海云帆科技有限公司", "北京星河贸易有限公司", "深圳市海岸电子有限公司", "杭州青禾文化传媒有限公司"];
const COUPON_ERRORS: &[&str] = &["不满足使用条件", "优惠券已过期", "系统繁忙，请稍后再试", "该商品不参与活动"];
const TAGS: &[&str] = &["退款", "物流", "发票", "vip", "投诉", "售前", "refund", "shipping"];

/// A seeded generator of conversation texts.
struct Texts {
    rng: fastrand::Rng,
}

impl Texts {
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.rng.usize(..list.len())]
    }

    fn order(&mut self) -> String {
        format!("DD{:010}", self.rng.u64(..10_000_000_000))
    }

    fn tracking(&mut self) -> String {
        format!("SF{:012}", self.rng.u64(..1_000_000_000_000))
    }

    /// One conversation on one topic: (from the visitor?, text) in order.
    fn conversation(&mut self) -> Vec<(bool, String)> {
        let topic = self.rng.usize(..9);
        let product = self.pick(PRODUCTS);
        let product_en = self.pick(PRODUCTS_EN);
        let order = self.order();
        let tracking = self.tracking();
        let days = self.rng.u32(1..8);
        let amount = self.rng.u32(19..3000);
        let mut lines: Vec<(bool, String)> = match topic {
            0 => vec![
                (true, format!("你好，我想申请退款，订单号是{order}")),
                (false, "您好，很高兴为您服务，麻烦提供一下退款原因".into()),
                (true, format!("收到的{product}有质量问题，用了两天就坏了")),
                (false, format!("已经为您登记退款，预计{days}个工作日原路退回，金额¥{amount}")),
                (true, "好的，谢谢".into()),
            ],
            1 => vec![
                (true, format!("物流信息一直没有更新，订单{order}已经三天了")),
                (false, "抱歉让您久等了，我帮您查一下物流".into()),
                (false, format!("快递单号是{tracking}，目前在{}中转，预计明天送达", self.pick(CITIES))),
                (true, "能不能催一下快递？着急用".into()),
                (false, "已经为您催促快递公司，请注意查收".into()),
            ],
            2 => vec![
                (true, "请问可以开发票吗？需要增值税专用发票".into()),
                (false, "可以的，请提供发票抬头和税号".into()),
                (true, format!("发票抬头写{}，税号91310115MA1K{:06}", self.pick(COMPANIES), self.rng.u32(..1_000_000))),
                (false, "好的，电子发票会在发货后发送到您的邮箱".into()),
            ],
            3 => vec![
                (true, format!("请问{product}有{}的吗？", self.pick(COLORS))),
                (false, format!("有的，{}和{}都有现货", self.pick(COLORS), self.pick(COLORS))),
                (true, "今天下单什么时候能发货".into()),
                (false, "下午四点前下单当天发货".into()),
            ],
            4 => vec![
                (true, format!("可以改一下收货地址吗？改成{}", self.pick(CITIES))),
                (false, "订单还没有发货，可以修改，请提供新的收货人电话".into()),
                (true, format!("电话是138{:08}", self.rng.u32(..100_000_000))),
            ],
            5 => vec![
                (true, format!("优惠券用不了，提示{}", self.pick(COUPON_ERRORS))),
                (false, "请问是哪一张优惠券？满减券需要满299元才能使用".into()),
                (true, "那会员积分怎么兑换优惠券？".into()),
                (false, "在我的-积分商城里可以兑换".into()),
            ],
            6 => vec![
                (true, format!("Hi, where is my order {order}? It has been a week.")),
                (
                    false,
                    format!(
                        "Sorry for the delay! Your tracking number is {tracking}, it should arrive in {days} days."
                    ),
                ),
                (true, "The tracking number shows no updates since Monday".into()),
                (false, "I have contacted the courier and will update you by email".into()),
                (true, format!("Can I change the shipping address to {}?", self.pick(CITIES_EN))),
            ],
            7 => vec![
                (true, format!("I want a refund for the {product_en} I bought last week, it stopped working")),
                (false, "I'm sorry to hear that. Could you send a photo of the problem?".into()),
                (true, "Sure, attached. The screen is cracked and the battery drains fast".into()),
                (false, format!("Thanks, I have issued a refund of ${amount}, it takes {days} business days")),
                (true, "Great, thanks for your help!".into()),
            ],
            _ => vec![
                (true, format!("我的iPhone 15 Pro屏幕坏了，order {order} 可以换货吗")),
                (false, "可以的，请在app里提交换货申请，选择quality issue".into()),
                (true, format!("能开invoice吗？公司是{}", self.pick(COMPANIES))),
                (false, format!("可以，invoice会发到您的email，tracking number {tracking}")),
            ],
        };
        // Some conversations go on a little longer.
        for _ in 0..self.rng.usize(..4) {
            lines.push((true, "还有一个问题，会员积分什么时候到账？".into()));
            lines.push((false, "积分会在确认收货后7天内到账".into()));
        }
        lines
    }
}

struct Progress;

impl kefu_api::tenancy::migrate::Progress for Progress {
    fn start(&self, _total: u64) {}
    fn advance(&self) {}
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base: PgConnectOptions = args.database_url.parse()?;
    let name = format!("kefu_searchbench_{}", std::process::id());
    let mut admin = base.connect().await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "create database {name} encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'"
        )))
        .await?;
    let url = base.clone().database(&name).to_url_lossy().to_string();
    let result = bench(&args, &url).await;
    if args.keep {
        println!("\nkept the scratch database `{name}`");
    } else {
        admin.execute(sqlx::AssertSqlSafe(format!("drop database if exists {name} with (force)"))).await?;
    }
    admin.close().await?;
    result
}

async fn bench(args: &Args, url: &str) -> anyhow::Result<()> {
    let databases = db::Databases::new(db::connect(url, 4, Duration::from_secs(60))?, Default::default());
    kefu_api::tenancy::migrate::migrate_all(&databases, 2, &Progress).await?;
    kefu_api::tenancy::migrate::create_unmigrated_tenants(&databases, &db::DatabaseId::main(), 1, "searchbench")
        .await?;
    kefu_api::tenancy::migrate::migrate_all(&databases, 2, &Progress).await?;
    let id: kefu_protocol::TenantId =
        sqlx::query_scalar("select id from control.tenants").fetch_one(databases.control()).await?;
    let schema = {
        let mut conn = databases.control().acquire().await?;
        let access = db::tenants::find_access(&mut conn, id).await?;
        kefu_api::auth::TenantCtx::admit(access).map_err(|e| anyhow::anyhow!("{e}"))?.0.schema
    };

    println!("## kefu-search-bench: {} messages in one tenant", args.messages);
    println!();
    let started = Instant::now();
    let generated = generate(databases.control(), &schema, args.messages).await?;
    let generating = started.elapsed();
    println!(
        "- generated {} messages in {} conversations in {:.1} s ({:.0} messages/s, the `messages` trigger queueing each for the index)",
        generated.messages,
        generated.conversations,
        generating.as_secs_f64(),
        generated.messages as f64 / generating.as_secs_f64()
    );
    let started = Instant::now();
    let indexed = kefu_api::search::indexer::drain(&databases, id).await?;
    let indexing = started.elapsed();
    println!(
        "- indexed {indexed} messages with the nodes' indexer in {:.1} s ({:.0} messages/s, one connection)",
        indexing.as_secs_f64(),
        indexed as f64 / indexing.as_secs_f64()
    );
    let started = Instant::now();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "vacuum analyze {s}.messages, {s}.search_docs, {s}.conversations, {s}.search_pending",
        s = schema.name()
    )))
    .execute(databases.control())
    .await?;
    println!("- vacuum analyze: {:.1} s", started.elapsed().as_secs_f64());
    sizes(databases.control(), &schema).await?;

    let sample = Sample::read(databases.control(), &schema).await?;
    let queries = typical_queries(&sample);
    println!();
    println!(
        "Times of one search page (20 hits) through the endpoint's code path, {} runs after 3 warm-up runs:",
        args.runs
    );
    println!();
    println!("| query | hits on page | p50 ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for (label, query) in &queries {
        for _ in 0..3 {
            kefu_api::http::search::search(&databases, &schema, None, query)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        let mut times = Vec::with_capacity(args.runs);
        let mut hits = 0;
        for _ in 0..args.runs {
            let started = Instant::now();
            let page = kefu_api::http::search::search(&databases, &schema, None, query)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            times.push(started.elapsed());
            hits = page.hits.len();
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1).min(times.len() - 1)];
        println!(
            "| {label} | {hits} | {:.1} | {:.1} | {:.1} |",
            ms(at(0.5)),
            ms(at(0.95)),
            ms(*times.last().unwrap_or(&Duration::ZERO))
        );
    }
    Ok(())
}

struct Generated {
    messages: u64,
    conversations: u64,
}

/// Fills the tenant: agents, then conversations with their visitors and messages, spread over the
/// last year, in batches of [`CONVERSATIONS_PER_BATCH`] per transaction.
async fn generate(pool: &PgPool, schema: &TenantSchema, target: u64) -> anyhow::Result<Generated> {
    let mut conn = pool.acquire().await?;
    conn.execute(sqlx::AssertSqlSafe(format!("set search_path to {}", schema.name()))).await?;
    let agents: Vec<uuid::Uuid> = (0..AGENTS).map(|_| uuid::Uuid::now_v7()).collect();
    let names: Vec<String> = (0..AGENTS).map(|i| format!("客服{:02}", i + 1)).collect();
    sqlx::query("insert into agents (user_id, display_name) select * from unnest($1::uuid[], $2::text[])")
        .bind(&agents)
        .bind(&names)
        .execute(&mut *conn)
        .await?;
    let mut texts = Texts { rng: fastrand::Rng::with_seed(15) };
    let now = Utc::now();
    let year = 365 * 24 * 3600;
    let (mut messages, mut conversations) = (0u64, 0u64);
    while messages < target {
        let mut visitors = Vec::new();
        let mut conversation_rows = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut rows = MessageRows::default();
        for _ in 0..CONVERSATIONS_PER_BATCH {
            if messages >= target {
                break;
            }
            let visitor = uuid::Uuid::now_v7();
            let conversation = uuid::Uuid::now_v7();
            let agent = texts.rng.usize(..AGENTS);
            let start = now - chrono::Duration::seconds(texts.rng.i64(3600..year));
            let mut at = start;
            let lines = texts.conversation();
            let count = lines.len().min(usize::try_from(target - messages).unwrap_or(usize::MAX));
            for (seq, (from_visitor, body)) in lines.into_iter().take(count).enumerate() {
                at += chrono::Duration::seconds(texts.rng.i64(20..300));
                rows.push(
                    conversation,
                    seq as i64 + 1,
                    if from_visitor {
                        (visitor, "visitor", None)
                    } else {
                        (agents[agent], "agent", Some(&names[agent]))
                    },
                    body,
                    at,
                );
            }
            messages += count as u64;
            conversations += 1;
            visitors.push(visitor);
            let tags: Vec<String> = if texts.rng.u8(..3) == 0 { vec![texts.pick(TAGS).to_owned()] } else { Vec::new() };
            let rating: Option<i16> = (texts.rng.u8(..3) == 0).then(|| texts.rng.i16(1..6));
            conversation_rows.0.push(conversation);
            conversation_rows.1.push(visitor);
            conversation_rows.2.push(agents[agent]);
            conversation_rows.3.push(count as i64);
            conversation_rows.4.push(format!("{{{}}}", tags.join(",")));
            conversation_rows.5.push(rating);
            rows.conversation_times.push((start, at));
        }
        let mut tx = conn.begin().await?;
        sqlx::query("insert into visitors (id) select * from unnest($1::uuid[])")
            .bind(&visitors)
            .execute(&mut *tx)
            .await?;
        let (starts, ends): (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) = rows.conversation_times.iter().copied().unzip();
        sqlx::query(
            "insert into conversations (id, visitor_id, status, assignee, last_seq, tags, rating, created_at, updated_at,
                 closed_at, bot_active)
             select c, v, 'closed', a, s, t::text[], r, cs, ce, ce, false
             from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[], $5::text[], $6::int2[], $7::timestamptz[],
                 $8::timestamptz[]) as u(c, v, a, s, t, r, cs, ce)",
        )
        .bind(&conversation_rows.0)
        .bind(&conversation_rows.1)
        .bind(&conversation_rows.2)
        .bind(&conversation_rows.3)
        .bind(&conversation_rows.4)
        .bind(&conversation_rows.5)
        .bind(&starts)
        .bind(&ends)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into messages (id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, body, created_at)
             select gen_random_uuid(), c, s, k, i, n, 'gen-' || s, b, t
             from unnest($1::uuid[], $2::int8[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[])
                 as u(c, s, k, i, n, b, t)",
        )
        .bind(&rows.conversation)
        .bind(&rows.seq)
        .bind(&rows.kind)
        .bind(&rows.sender)
        .bind(&rows.name)
        .bind(&rows.body)
        .bind(&rows.at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(Generated { messages, conversations })
}

#[derive(Default)]
struct MessageRows {
    conversation: Vec<uuid::Uuid>,
    seq: Vec<i64>,
    kind: Vec<&'static str>,
    sender: Vec<uuid::Uuid>,
    name: Vec<Option<String>>,
    body: Vec<String>,
    at: Vec<DateTime<Utc>>,
    conversation_times: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl MessageRows {
    fn push(
        &mut self,
        conversation: uuid::Uuid,
        seq: i64,
        (sender, kind, name): (uuid::Uuid, &'static str, Option<&String>),
        body: String,
        at: DateTime<Utc>,
    ) {
        self.conversation.push(conversation);
        self.seq.push(seq);
        self.kind.push(kind);
        self.sender.push(sender);
        self.name.push(name.cloned());
        self.body.push(body);
        self.at.push(at);
    }
}

/// Prints the sizes of the messages and of the index.
async fn sizes(pool: &PgPool, schema: &TenantSchema) -> anyhow::Result<()> {
    let s = schema.name();
    let mb = |bytes: i64| bytes as f64 / 1_048_576.0;
    let (messages, docs, docs_total, gin, created): (i64, i64, i64, i64, i64) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select pg_total_relation_size('{s}.messages'), pg_relation_size('{s}.search_docs'),
                    pg_total_relation_size('{s}.search_docs'), pg_relation_size('{s}.search_docs_doc'),
                    pg_relation_size('{s}.search_docs_created')"
        )))
        .fetch_one(pool)
        .await?;
    println!(
        "- sizes: messages with their indexes {:.0} MB; the search index {:.0} MB in all (table {:.0} MB, GIN {:.0} MB, time index {:.0} MB)",
        mb(messages),
        mb(docs_total),
        mb(docs),
        mb(gin),
        mb(created)
    );
    Ok(())
}

/// Values the queries need from the generated data.
struct Sample {
    agent: String,
    conversation: String,
    order: String,
    month_ago: String,
}

impl Sample {
    async fn read(pool: &PgPool, schema: &TenantSchema) -> anyhow::Result<Self> {
        let s = schema.name();
        let (agent, conversation): (uuid::Uuid, uuid::Uuid) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select assignee, id from {s}.conversations order by created_at desc limit 1"
        )))
        .fetch_one(pool)
        .await?;
        let order: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select substring(body from 'DD[0-9]{{10}}') from {s}.messages where body like '%DD%' limit 1"
        )))
        .fetch_one(pool)
        .await?;
        Ok(Self {
            agent: kefu_protocol::UserId::from_uuid(agent).to_string(),
            conversation: kefu_protocol::ConversationId::from_uuid(conversation).to_string(),
            order,
            month_ago: (Utc::now() - chrono::Duration::days(30)).to_rfc3339(),
        })
    }
}

fn typical_queries(sample: &Sample) -> Vec<(String, SearchQuery)> {
    let q = |text: &str| SearchQuery { q: Some(text.to_owned()), ..Default::default() };
    let mut list: Vec<(String, SearchQuery)> = vec![
        ("`退款` (2 characters, common)".into(), q("退款")),
        ("`退` (1 character)".into(), q("退")),
        ("`物流信息` (4 characters)".into(), q("物流信息")),
        ("`发票抬头`".into(), q("发票抬头")),
        ("`refund` (English, stemmed)".into(), q("refund")),
        ("`\"tracking number\"` (phrase)".into(), q("\"tracking number\"")),
        ("`火星人` (no match)".into(), q("火星人")),
        ("an order number (one match)".into(), q(&sample.order)),
        ("`退款 -发票` (exclusion)".into(), q("退款 -发票")),
        ("`iphone 屏幕` (mixed)".into(), q("iphone 屏幕")),
        ("`优惠券 OR coupon`".into(), q("优惠券 OR coupon")),
        ("`积分` + one agent".into(), SearchQuery { agent: Some(sample.agent.clone()), ..q("积分") }),
        ("`退款` + last 30 days".into(), SearchQuery { from: Some(sample.month_ago.clone()), ..q("退款") }),
        ("`退款` by relevance".into(), SearchQuery { order: Some("relevance".into()), ..q("退款") }),
        (
            "`退款` + tag `vip` + rating 1–2".into(),
            SearchQuery { tag: Some("vip".into()), rating: Some("1,2".into()), ..q("退款") },
        ),
        (
            "no keywords: one conversation's history".into(),
            SearchQuery { conversation: Some(sample.conversation.clone()), ..Default::default() },
        ),
        (
            "no keywords: visitor messages, newest".into(),
            SearchQuery { sender: Some("visitor".into()), ..Default::default() },
        ),
    ];
    for (_, query) in &mut list {
        query.limit = Some(20);
    }
    list
}
