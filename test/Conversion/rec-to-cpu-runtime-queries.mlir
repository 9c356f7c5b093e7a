// RUN: seq-opt %s -convert-rec-to-cpu | FileCheck %s --check-prefix=CPU
// RUN: seq-opt %s -convert-rec-to-gpu | FileCheck %s --check-prefix=GPU

// rec.thread_count, rec.newton_report and rec.chunk_fallback_report become
// calls of the target's runtime: the CPU runtime's functions for
// M_forward, the CUDA launcher's twins for M_forward_cuda.
// CPU-DAG: func.func private @seqc_num_threads() -> i64
// CPU-DAG: func.func private @seqc_newton_report(i64, i32, f32)
// CPU-DAG: func.func private @seqc_chunk_fallback_report()
// CPU-LABEL: func.func private @queries_forward_unguarded
//       CPU: call @seqc_num_threads() : () -> i64
//       CPU: %[[I:.*]] = arith.index_cast %{{.*}} : index to i64
//       CPU: %[[C:.*]] = arith.extui %{{.*}} : i1 to i32
//       CPU: call @seqc_newton_report(%[[I]], %[[C]], %{{.*}}) : (i64, i32, f32) -> ()
//       CPU: call @seqc_chunk_fallback_report() : () -> ()
//   CPU-NOT: rec.
// GPU-DAG: func.func private @seqc_cuda_num_threads() -> i64
// GPU-DAG: func.func private @seqc_cuda_newton_report(i64, i32, f32)
// GPU-DAG: func.func private @seqc_cuda_chunk_fallback_report()
// GPU-LABEL: func.func private @queries_forward_cuda_unguarded
//       GPU: call @seqc_cuda_num_threads() : () -> i64
//       GPU: call @seqc_cuda_newton_report(
//       GPU: call @seqc_cuda_chunk_fallback_report() : () -> ()
//   GPU-NOT: @seqc_num_threads
rec.model @queries(%B: index, %T: index, %x: tensor<?x?x4xf32>)
    -> (tensor<?x?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = [],
                output_names = ["y"], state_init = array<f64>, dims = {H = 4 : i64}} {
  %n = rec.thread_count : i64
  %i = arith.index_cast %n : i64 to index
  %yes = arith.constant true
  %r = arith.constant 0.5 : f32
  rec.newton_report %i, %yes, %r
  rec.chunk_fallback_report
  rec.return %x : tensor<?x?x4xf32>
}
