//! Loading, analyzing and planning a large manifest: 10,000 steps and 30,000 edges.
//! Target (docs/performance.md): under 200 ms for the whole `check` + `plan` path.

use std::fmt::Write as _;

use criterion::{Criterion, criterion_group, criterion_main};
use pipewright::graph::StepGraph;
use pipewright::manifest::{SourceFile, Variables, load, parse_pipeline};
use pipewright::plan::{Plan, Selection};

/// Step `i` runs after up to three earlier steps (`i-1`, `i-7`, `i-31`): 29,961 edges for
/// 10,000 steps, with long chains and wide waves, as a large dbt project has.
fn generated_manifest(steps: usize) -> String {
    let mut text = String::from("[pipeline]\nname = \"large\"\nconcurrency = 16\n");
    for index in 0..steps {
        let _ = write!(
            text,
            "\n[steps.step_{index}]\nkind = \"command\"\nrun = [\"echo\", \"${{GREETING:-hi}}\", \"{index}\"]\ntags = [\"group_{}\"]\n",
            index % 10
        );
        let dependencies: Vec<String> = [1, 7, 31]
            .iter()
            .filter(|offset| index >= **offset)
            .map(|offset| format!("\"step_{}\"", index - offset))
            .collect();
        if !dependencies.is_empty() {
            let _ = writeln!(text, "after = [{}]", dependencies.join(", "));
        }
    }
    text
}

fn bench_manifest(criterion: &mut Criterion) {
    let source = SourceFile::new("large.toml", generated_manifest(10_000));
    let variables = Variables::default();
    let mut group = criterion.benchmark_group("manifest_10000_steps");
    group.sample_size(20);
    group.bench_function("load", |bench| bench.iter(|| load(&source).unwrap()));
    group.bench_function("check_and_plan", |bench| {
        bench.iter(|| {
            let pipeline = parse_pipeline(&source, &variables).unwrap();
            let graph = StepGraph::new(&pipeline);
            Plan::new(
                &pipeline,
                &graph,
                &Selection::default(),
                pipeline.concurrency,
            )
            .unwrap()
        });
    });
    let pipeline = parse_pipeline(&source, &variables).unwrap();
    let graph = StepGraph::new(&pipeline);
    assert_eq!(graph.edges().len(), 29_961);
    group.bench_function("plan_only", |bench| {
        bench.iter(|| Plan::new(&pipeline, &graph, &Selection::default(), 16).unwrap());
    });
    group.finish();
}

criterion_group!(benches, bench_manifest);
criterion_main!(benches);
