//===- Lexer.h - Tokens of the .seq language ---------------------*- C++ -*-===//
//
// Splits a .seq buffer into tokens. Newlines end statements, except inside
// parentheses or brackets, where an expression may continue on the next line;
// the lexer tracks that nesting so the parser never sees those newlines.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_LEXER_H
#define SEQC_FRONTEND_LEXER_H

#include "seqc/Frontend/Diagnostics.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

namespace seqc {

struct Token {
  enum Kind {
    Eof, Newline, Ident, Number, String,
    LParen, RParen, LBracket, RBracket, LBrace, RBrace,
    Comma, Colon, Semicolon, Dot, Assign, Tilde,
    Plus, Minus, Star, Slash, At,
    Less, LessEq, Greater, GreaterEq, EqEq, NotEq,
    Error,
  };
  Kind kind = Eof;
  llvm::StringRef text;
  double number = 0;
  bool isInteger = false;

  llvm::SMLoc loc() const { return llvm::SMLoc::getFromPointer(text.data()); }
  bool is(Kind k) const { return kind == k; }
  bool isIdent(llvm::StringRef s) const { return kind == Ident && text == s; }
};

/// Human-readable spelling of a token kind, for "expected X" messages.
const char *tokenKindName(Token::Kind kind);

class Lexer {
public:
  Lexer(llvm::StringRef buffer, Diagnostics &diags)
      : buffer(buffer), cur(buffer.begin()), diags(diags) {}
  Token next();

private:
  Token make(Token::Kind kind, const char *start) {
    Token t;
    t.kind = kind;
    t.text = llvm::StringRef(start, cur - start);
    return t;
  }
  Token lexNumber(const char *start);

  llvm::StringRef buffer;
  const char *cur;
  Diagnostics &diags;
  int nesting = 0; // open ( and [ not yet closed
};

} // namespace seqc

#endif
