//! The scheduler's own cost per step, with an executor that does nothing: what pipewright adds
//! on top of the work of the steps.

use std::fmt::Write as _;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pipewright::graph::StepGraph;
use pipewright::manifest::{SourceFile, Variables, parse_pipeline};
use pipewright::pipeline::{Pipeline, StepSpec};
use pipewright::plan::{Plan, Selection};
use pipewright::run::{RunOptions, Scheduler};
use pipewright::steps::{StepContext, StepExecutor, StepFuture, StepOutput};
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct NoOp;

impl StepExecutor for NoOp {
    fn execute<'a>(&'a self, _step: &'a StepSpec, _context: &'a StepContext) -> StepFuture<'a> {
        Box::pin(async { Ok(StepOutput::default()) })
    }
}

/// `steps` steps; with `chain`, each runs after the previous one, otherwise all are independent.
fn pipeline(steps: usize, chain: bool) -> (Pipeline, Plan) {
    let mut text = String::from("[pipeline]\nname = \"noop\"\nconcurrency = 64\n");
    for index in 0..steps {
        let _ = write!(
            text,
            "\n[steps.s{index}]\nkind = \"command\"\nrun = [\"true\"]\n"
        );
        if chain && index > 0 {
            let _ = writeln!(text, "after = [\"s{}\"]", index - 1);
        }
    }
    let pipeline =
        parse_pipeline(&SourceFile::new("noop.toml", text), &Variables::default()).unwrap();
    let graph = StepGraph::new(&pipeline);
    let plan = Plan::new(&pipeline, &graph, &Selection::default(), 64).unwrap();
    (pipeline, plan)
}

fn bench_scheduler(criterion: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = criterion.benchmark_group("scheduler_noop_steps");
    for (name, chain) in [("independent_1000", false), ("chain_1000", true)] {
        let (pipeline, plan) = pipeline(1_000, chain);
        let pipeline = Arc::new(pipeline);
        group.throughput(Throughput::Elements(1_000));
        group.bench_function(name, |bench| {
            bench.iter_batched(
                || plan.clone(),
                |plan| {
                    runtime.block_on(async {
                        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
                        let drain =
                            tokio::spawn(async move { while receiver.recv().await.is_some() {} });
                        let options = RunOptions {
                            jobs: 64,
                            keep_going: false,
                            resume: false,
                            update_baseline: false,
                        };
                        let summary = Scheduler::new(Arc::clone(&pipeline), plan, options, sender)
                            .with_executor(Arc::new(NoOp))
                            .run(CancellationToken::new())
                            .await;
                        drain.await.unwrap();
                        assert_eq!(summary.counts.succeeded, 1_000);
                    });
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench_scheduler);
criterion_main!(benches);
