//! `kefu-fake-stripe`: the tests' fake Stripe (`kefu_api::fake_stripe`) as a process, for
//! `make dev`: the api talks to it instead of Stripe, its Checkout page's "Pay" button and its
//! portal's "Make the next payment fail" deliver signed events to the api's webhook, so billing
//! can be tried end to end in the browser without a Stripe account (docs/billing.md).
//!
//! Example: `kefu-fake-stripe --listen 127.0.0.1:8091 --webhook http://127.0.0.1:8080/api/v1/stripe/webhook --secret whsec_…`

use clap::Parser;
use kefu_api::fake_stripe::{Delivery, FakeStripe};

#[derive(Parser, Debug)]
#[command(about = "A stand-in for Stripe for local development (no card is charged)")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8091")]
    listen: String,
    /// The api's Stripe webhook URL.
    #[arg(long)]
    webhook: String,
    /// The webhook signing secret the api is configured with.
    #[arg(long, env = "KEFU_BILLING__STRIPE_WEBHOOK_SECRET")]
    secret: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let fake = FakeStripe::serve(listener);
    fake.deliver_to(Delivery { url: args.webhook, secret: args.secret });
    eprintln!("kefu-fake-stripe: serving {} (test mode)", fake.base);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
