// Corstone-300 (Cortex-M55 + Ethos-U) firmware for a Vela-compiled model run by TensorFlow Lite
// Micro. Vela turned the NPU part of the network into one `ethos-u` custom op (its command stream
// and encoded weights); TFLM's ethos-u kernel (AddEthosU) hands it to the Ethos-U core driver, and
// the operators Vela left on the CPU run as ordinary TFLM kernels. One inference on an all-zero
// input; prints the outputs and the NPU's cycle count next to Vela's estimate.
#include <cstdint>
#include <cstdio>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"  // tflite::GetModel

#include "model_data.h"
#include "model_settings.h"
#include "npu.h"
#include "npu_settings.h"

namespace {
// Vela's scratch areas and the I/O tensors (model_settings.h); in SRAM with Shared_Sram, in DRAM
// with Dedicated_Sram (arena_region.ld).
alignas(16) __attribute__((section(".bss.tensor_arena"))) uint8_t tensor_arena[ACDEPLOY_TENSOR_ARENA_SIZE];
}  // namespace

int main() {
  std::printf("acdeploy: %s on %s\n", ACDEPLOY_NPU_ACCELERATOR, "Corstone-300");
  if (npu_init() != 0) {
    std::printf("ethos-u: driver initialisation failed\n");
    return 1;
  }
  // The interpreter checks the schema version itself (AllocateTensors fails on a mismatch).
  const tflite::Model* model = tflite::GetModel(ACDEPLOY_MODEL_ARRAY);
  // Locals, not function statics: no __cxa_atexit (and its __dso_handle) in a -nostartfiles image.
  tflite::MicroMutableOpResolver<ACDEPLOY_OP_COUNT> resolver;
  ACDEPLOY_REGISTER_OPS(resolver);
  tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, sizeof(tensor_arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    std::printf("AllocateTensors failed: arena of %u bytes\n", static_cast<unsigned>(sizeof(tensor_arena)));
    return 1;
  }
  TfLiteTensor* input = interpreter.input(0);
  for (size_t i = 0; i < input->bytes; ++i) {
    input->data.uint8[i] = 0;
  }
  if (interpreter.Invoke() != kTfLiteOk) {
    std::printf("Invoke failed\n");
    return 1;
  }
  const TfLiteTensor* output = interpreter.output(0);
  std::printf("output:");
  if (output->type == kTfLiteFloat32) {  // a float-I/O model: DEQUANTIZE ran on the CPU
    for (size_t i = 0; i < output->bytes / sizeof(float); ++i) {
      std::printf(" %g", static_cast<double>(output->data.f[i]));
    }
  } else {
    for (size_t i = 0; i < output->bytes; ++i) {
      std::printf(" %d", output->data.int8[i]);
    }
  }
  std::printf("\narena used: %u of %u bytes\n", static_cast<unsigned>(interpreter.arena_used_bytes()),
              static_cast<unsigned>(sizeof(tensor_arena)));
  std::printf("NPU cycles: %llu (Vela's estimate: %u)\n", static_cast<unsigned long long>(npu_last_cycles()),
              ACDEPLOY_NPU_ESTIMATED_CYCLES);
  return 0;
}
