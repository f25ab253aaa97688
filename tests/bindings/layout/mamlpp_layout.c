/*
 * mamlpp_layout — prints the memory layout of every public struct of mamlpp.h as JSON, so that
 * bindings that mirror the structs (Python ctypes, Rust #[repr(C)], Go, Julia) can be checked
 * against what a C compiler makes of the header. The output format is documented, and frozen,
 * in README.md beside this file.
 *
 * Usage: mamlpp_layout [output.json]   (stdout without an argument)
 *
 * Compiled from the header alone (it does not link libmamlpp).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <mamlpp/mamlpp.h>

/* alignof in C99 */
#define ALIGNOF(T) offsetof(struct { char c_; T t_; }, t_)
#define FIELD_SIZE(S, f) sizeof(((S*)0)->f)

/* Fails to compile if the listed fields do not reach the end of the struct (modulo the final
 * padding): a field added to the header but not to this program is caught at build time. */
#define CHECK_LAST(S, f)                                                                        \
  typedef char check_last_##S[(sizeof(S) - (offsetof(S, f) + FIELD_SIZE(S, f)) < ALIGNOF(S)) \
                                  ? 1                                                           \
                                  : -1]

typedef struct field {
  const char* name;
  const char* type;
  size_t offset;
  size_t size;
} field;

#define F(S, f, T) {#f, T, offsetof(S, f), FIELD_SIZE(S, f)}

static const field config_fields[] = {
    F(maml_config, struct_size, "uint32_t"),
    F(maml_config, n_way, "int32_t"),
    F(maml_config, image_channels, "int32_t"),
    F(maml_config, image_height, "int32_t"),
    F(maml_config, image_width, "int32_t"),
    F(maml_config, num_stages, "int32_t"),
    F(maml_config, num_filters, "int32_t"),
    F(maml_config, max_pool, "int32_t"),
    F(maml_config, inner_steps, "int32_t"),
    F(maml_config, eval_inner_steps, "int32_t"),
    F(maml_config, inner_lr, "float"),
    F(maml_config, learn_inner_lr, "int32_t"),
    F(maml_config, per_step_bn, "int32_t"),
    F(maml_config, bn_stats, "int32_t"),
    F(maml_config, multi_step_loss, "int32_t"),
    F(maml_config, msl_epochs, "int32_t"),
    F(maml_config, second_order, "int32_t"),
    F(maml_config, first_order_epochs, "int32_t"),
    F(maml_config, meta_lr, "float"),
    F(maml_config, meta_lr_min, "float"),
    F(maml_config, adam_beta1, "float"),
    F(maml_config, adam_beta2, "float"),
    F(maml_config, grad_clip, "float"),
    F(maml_config, epochs, "int32_t"),
    F(maml_config, iters_per_epoch, "int32_t"),
    F(maml_config, device_type, "int32_t"),
    F(maml_config, device_index, "int32_t"),
    F(maml_config, reserved0, "int32_t"),
    F(maml_config, seed, "uint64_t"),
    F(maml_config, task_batching, "int32_t"),
    F(maml_config, num_threads, "int32_t"),
    F(maml_config, dtype, "int32_t"),
    F(maml_config, reserved1, "int32_t"),
    F(maml_config, grad_clip_lslr, "int32_t"),
    F(maml_config, adapt_last_layers, "int32_t"),
    F(maml_config, backbone, "int32_t"),
    F(maml_config, input_features, "int32_t"),
    F(maml_config, hidden_layers, "int32_t"),
    F(maml_config, hidden_sizes, "int32_t[8]"),
    F(maml_config, activation, "int32_t"),
    F(maml_config, task_kind, "int32_t"),
    F(maml_config, n_outputs, "int32_t"),
    F(maml_config, batch_norm, "int32_t"),
    F(maml_config, reserved3, "int32_t"),
};
CHECK_LAST(maml_config, reserved3);

static const field tasks_fields[] = {
    F(maml_tasks, struct_size, "uint32_t"),
    F(maml_tasks, num_tasks, "int32_t"),
    F(maml_tasks, support_size, "int32_t"),
    F(maml_tasks, query_size, "int32_t"),
    F(maml_tasks, support_x, "const float*"),
    F(maml_tasks, support_y, "const int32_t*"),
    F(maml_tasks, query_x, "const float*"),
    F(maml_tasks, query_y, "const int32_t*"),
    F(maml_tasks, support_t, "const float*"),
    F(maml_tasks, query_t, "const float*"),
};
CHECK_LAST(maml_tasks, query_t);

static const field metrics_fields[] = {
    F(maml_metrics, struct_size, "uint32_t"),
    F(maml_metrics, loss, "float"),
    F(maml_metrics, accuracy, "float"),
    F(maml_metrics, meta_lr, "float"),
    F(maml_metrics, second_order, "int32_t"),
    F(maml_metrics, reserved0, "int32_t"),
    F(maml_metrics, step, "int64_t"),
    F(maml_metrics, epoch, "int64_t"),
};
CHECK_LAST(maml_metrics, epoch);

static void print_struct(FILE* out, const char* name, size_t size, size_t align, const field* f,
                         size_t n, int last) {
  size_t i;
  fprintf(out, "    \"%s\": {\n      \"size\": %lu,\n      \"align\": %lu,\n      \"fields\": [\n",
          name, (unsigned long)size, (unsigned long)align);
  for (i = 0; i < n; ++i) {
    fprintf(out, "        {\"name\": \"%s\", \"type\": \"%s\", \"offset\": %lu, \"size\": %lu}%s\n",
            f[i].name, f[i].type, (unsigned long)f[i].offset, (unsigned long)f[i].size,
            i + 1 < n ? "," : "");
  }
  fprintf(out, "      ]\n    }%s\n", last ? "" : ",");
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(int argc, char** argv) {
  FILE* out = stdout;
  if (argc > 2) {
    fprintf(stderr, "usage: %s [output.json]\n", argv[0]);
    return 2;
  }
  if (argc == 2 && strcmp(argv[1], "-") != 0) {
    out = fopen(argv[1], "w");
    if (!out) {
      perror(argv[1]);
      return 1;
    }
  }
  fprintf(out, "{\n  \"format\": 1,\n  \"abi_version\": %d,\n  \"version\": \"%s\",\n",
          MAMLPP_ABI_VERSION, MAMLPP_VERSION_STRING);
  fprintf(out, "  \"pointer_size\": %lu,\n  \"structs\": {\n", (unsigned long)sizeof(void*));
  print_struct(out, "maml_config", sizeof(maml_config), ALIGNOF(maml_config), config_fields,
               COUNT(config_fields), 0);
  print_struct(out, "maml_tasks", sizeof(maml_tasks), ALIGNOF(maml_tasks), tasks_fields,
               COUNT(tasks_fields), 0);
  print_struct(out, "maml_metrics", sizeof(maml_metrics), ALIGNOF(maml_metrics), metrics_fields,
               COUNT(metrics_fields), 1);
  fprintf(out, "  }\n}\n");
  if (out != stdout && fclose(out) != 0) {
    perror(argv[1]);
    return 1;
  }
  return 0;
}
