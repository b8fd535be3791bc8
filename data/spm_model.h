// The parts of a SentencePiece model file (tokenizer.model, a ModelProto in protobuf wire format)
// that the native BPE encoder needs: the pieces with their scores and types, the model type, byte
// fallback and the normalizer settings. Read directly from the bytes, so no protobuf library or
// generated header is needed; unknown fields are skipped.
#pragma once

#include <string>
#include <vector>

namespace arena {

struct SpmPiece {
  // Piece types as in sentencepiece_model.proto.
  enum Type { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
  std::string piece;
  float score = 0;
  int type = kNormal;
};

struct SpmModel {
  enum ModelType { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };
  std::vector<SpmPiece> pieces;
  // trainer_spec
  int model_type = kUnigram;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  // normalizer_spec
  std::string normalizer_name;
  bool has_charsmap = false;  // a non-empty precompiled_charsmap (i.e. a Unicode normalization)
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses `bytes`; throws arena::Error naming `path` and the byte offset when the bytes are not a
// well-formed ModelProto.
SpmModel parse_spm_model(const std::string& bytes, const std::string& path);

}  // namespace arena
