// bench/arm's ONNX Runtime driver (bench/arm/README.md, "The peer"): the exported CapsNet graph on the first N MNIST
// test digits, batch 1, one intra-op thread, sequential execution, all graph optimisations, the same settings as
// bench/peers. Built for linux-arm64 and run under qemu, it is what estimate.sh traces in libonnxruntime.so; the count
// per image is the difference of two runs (N and 1 digits), so session creation drops out.
//   ort_run MODEL.onnx t10k-images-idx3-ubyte N   prints "base 0x…" (where libonnxruntime.so is loaded) and the classes
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <onnxruntime_c_api.h>

static const OrtApi *api;

static void check(OrtStatus *status)
{
    if (status) {
        fprintf(stderr, "ort_run: %s\n", api->GetErrorMessage(status));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ort_run MODEL.onnx t10k-images-idx3-ubyte N\n");
        return 2;
    }
    int n = atoi(argv[3]);
    FILE *f = fopen(argv[2], "rb");
    if (!f || n <= 0) {
        fprintf(stderr, "ort_run: cannot read %s or N = %s\n", argv[2], argv[3]);
        return 1;
    }
    static unsigned char pixels[784];
    static float image[784], lengths[16];
    fseek(f, 16, SEEK_SET); // IDX header: magic, count, rows, cols

    Dl_info info;
    dladdr((void *)OrtGetApiBase, &info);
    printf("base %p\n", info.dli_fbase);
    api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    OrtEnv *env;
    OrtSessionOptions *options;
    OrtSession *session;
    check(api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "ort_run", &env));
    check(api->CreateSessionOptions(&options));
    check(api->SetIntraOpNumThreads(options, 1));
    check(api->SetInterOpNumThreads(options, 1));
    check(api->SetSessionExecutionMode(options, ORT_SEQUENTIAL));
    check(api->SetSessionGraphOptimizationLevel(options, ORT_ENABLE_ALL));
    check(api->CreateSession(env, argv[1], options, &session));
    OrtMemoryInfo *memory;
    check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory));
    int64_t in_shape[] = {1, 1, 28, 28}, out_shape[] = {1, 10};
    OrtValue *input, *output;
    check(api->CreateTensorWithDataAsOrtValue(memory, image, sizeof image, in_shape, 4, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &input));
    check(api->CreateTensorWithDataAsOrtValue(memory, lengths, 10 * sizeof(float), out_shape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &output));
    const char *in_names[] = {"image"}, *out_names[] = {"lengths"};
    for (int i = 0; i < n; i++) {
        if (fread(pixels, 1, 784, f) != 784) {
            fprintf(stderr, "ort_run: the file holds fewer than %d images\n", n);
            return 1;
        }
        for (int p = 0; p < 784; p++) image[p] = pixels[p] / 255.0f;
        check(api->Run(session, NULL, in_names, (const OrtValue *const *)&input, 1, out_names, 1, &output));
        int best = 0;
        for (int c = 1; c < 10; c++) if (lengths[c] > lengths[best]) best = c;
        printf("%d\n", best);
    }
    return 0;
}
