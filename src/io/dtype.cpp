#include "io/dtype.hpp"

#include <iterator>

namespace mamlpp::io {

namespace {

struct DtypeInfo {
  TensorDtype type;
  const char* name;
  std::size_t size;
};

// Indexed by the enum's value; the static_assert below keeps the two in step.
constexpr DtypeInfo kDtypes[] = {
    {TensorDtype::BOOL, "BOOL", 1},       {TensorDtype::U8, "U8", 1},
    {TensorDtype::I8, "I8", 1},           {TensorDtype::F8_E5M2, "F8_E5M2", 1},
    {TensorDtype::F8_E4M3, "F8_E4M3", 1}, {TensorDtype::I16, "I16", 2},
    {TensorDtype::U16, "U16", 2},         {TensorDtype::F16, "F16", 2},
    {TensorDtype::BF16, "BF16", 2},       {TensorDtype::I32, "I32", 4},
    {TensorDtype::U32, "U32", 4},         {TensorDtype::F32, "F32", 4},
    {TensorDtype::F64, "F64", 8},         {TensorDtype::I64, "I64", 8},
    {TensorDtype::U64, "U64", 8},
};
static_assert(std::size(kDtypes) == static_cast<std::size_t>(TensorDtype::U64) + 1,
              "one entry per TensorDtype");

}  // namespace

const char* dtype_name(TensorDtype t) { return kDtypes[static_cast<std::size_t>(t)].name; }

std::size_t dtype_size(TensorDtype t) { return kDtypes[static_cast<std::size_t>(t)].size; }

std::optional<TensorDtype> parse_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.type;
  return std::nullopt;
}

}  // namespace mamlpp::io
