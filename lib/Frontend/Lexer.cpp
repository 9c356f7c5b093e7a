//===- Lexer.cpp - Tokens of the .seq language ----------------------------===//
//
// Hand-written lexer; see Lexer.h for the newline rule.
//
//===----------------------------------------------------------------------===//
#include "seqc/Frontend/Lexer.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

using namespace seqc;

const char *seqc::tokenKindName(Token::Kind kind) {
  switch (kind) {
  case Token::Eof: return "end of file";
  case Token::Newline: return "end of line";
  case Token::Ident: return "a name";
  case Token::Number: return "a number";
  case Token::String: return "a string";
  case Token::LParen: return "'('";
  case Token::RParen: return "')'";
  case Token::LBracket: return "'['";
  case Token::RBracket: return "']'";
  case Token::LBrace: return "'{'";
  case Token::RBrace: return "'}'";
  case Token::Comma: return "','";
  case Token::Colon: return "':'";
  case Token::Semicolon: return "';'";
  case Token::Dot: return "'.'";
  case Token::Assign: return "'='";
  case Token::Tilde: return "'~'";
  case Token::Plus: return "'+'";
  case Token::Minus: return "'-'";
  case Token::Star: return "'*'";
  case Token::Slash: return "'/'";
  case Token::At: return "'@'";
  case Token::Less: return "'<'";
  case Token::LessEq: return "'<='";
  case Token::Greater: return "'>'";
  case Token::GreaterEq: return "'>='";
  case Token::EqEq: return "'=='";
  case Token::NotEq: return "'!='";
  case Token::Error: return "an invalid character";
  }
  return "a token";
}

Token Lexer::lexNumber(const char *start) {
  bool isInteger = true;
  while (cur != buffer.end() && std::isdigit(static_cast<unsigned char>(*cur)))
    ++cur;
  if (cur != buffer.end() && *cur == '.') {
    isInteger = false;
    ++cur;
    while (cur != buffer.end() && std::isdigit(static_cast<unsigned char>(*cur)))
      ++cur;
  }
  if (cur != buffer.end() && (*cur == 'e' || *cur == 'E')) {
    const char *save = cur;
    ++cur;
    if (cur != buffer.end() && (*cur == '+' || *cur == '-'))
      ++cur;
    if (cur == buffer.end() || !std::isdigit(static_cast<unsigned char>(*cur))) {
      cur = save; // `2e` is a number followed by a name; let the parser complain
    } else {
      isInteger = false;
      while (cur != buffer.end() && std::isdigit(static_cast<unsigned char>(*cur)))
        ++cur;
    }
  }
  Token t = make(Token::Number, start);
  std::string text = t.text.str();
  errno = 0;
  t.number = std::strtod(text.c_str(), nullptr);
  t.isInteger = isInteger;
  if (errno == ERANGE && t.number != 0) {
    diags.error(t.loc(), "number '" + text + "' is out of range");
    t.kind = Token::Error;
  }
  return t;
}

Token Lexer::next() {
  while (true) {
    // Skip blanks and comments; newlines matter only outside brackets.
    while (cur != buffer.end()) {
      char c = *cur;
      if (c == ' ' || c == '\t' || c == '\r' || (c == '\n' && nesting > 0)) {
        ++cur;
      } else if (c == '#') {
        while (cur != buffer.end() && *cur != '\n')
          ++cur;
      } else {
        break;
      }
    }
    if (cur == buffer.end())
      return make(Token::Eof, cur);

    const char *start = cur;
    char c = *cur++;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (cur != buffer.end() &&
             (std::isalnum(static_cast<unsigned char>(*cur)) || *cur == '_'))
        ++cur;
      return make(Token::Ident, start);
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && cur != buffer.end() &&
         std::isdigit(static_cast<unsigned char>(*cur)))) {
      cur = start;
      return lexNumber(start);
    }
    auto twoChar = [&](char second, Token::Kind both, Token::Kind one) {
      if (cur != buffer.end() && *cur == second) {
        ++cur;
        return make(both, start);
      }
      return make(one, start);
    };
    switch (c) {
    case '\n': return make(Token::Newline, start);
    case '(': ++nesting; return make(Token::LParen, start);
    case '[': ++nesting; return make(Token::LBracket, start);
    case ')': if (nesting > 0) --nesting; return make(Token::RParen, start);
    case ']': if (nesting > 0) --nesting; return make(Token::RBracket, start);
    case '{': return make(Token::LBrace, start);
    case '}': return make(Token::RBrace, start);
    case ',': return make(Token::Comma, start);
    case ':': return make(Token::Colon, start);
    case ';': return make(Token::Semicolon, start);
    case '.': return make(Token::Dot, start);
    case '~': return make(Token::Tilde, start);
    case '+': return make(Token::Plus, start);
    case '-': return make(Token::Minus, start);
    case '*': return make(Token::Star, start);
    case '/': return make(Token::Slash, start);
    case '@': return make(Token::At, start);
    case '=': return twoChar('=', Token::EqEq, Token::Assign);
    case '<': return twoChar('=', Token::LessEq, Token::Less);
    case '>': return twoChar('=', Token::GreaterEq, Token::Greater);
    case '!':
      if (cur != buffer.end() && *cur == '=') {
        ++cur;
        return make(Token::NotEq, start);
      }
      break;
    case '"': {
      while (cur != buffer.end() && *cur != '"' && *cur != '\n')
        ++cur;
      if (cur == buffer.end() || *cur != '"') {
        diags.error(llvm::SMLoc::getFromPointer(start), "unterminated string");
        return make(Token::Error, start);
      }
      ++cur;
      Token t = make(Token::String, start);
      return t;
    }
    default:
      break;
    }
    // Report one error per run of bad bytes (e.g. a UTF-8 sequence), then go on.
    diags.error(llvm::SMLoc::getFromPointer(start),
                "unexpected character '" +
                    (std::isprint(static_cast<unsigned char>(c))
                         ? std::string(1, c)
                         : std::string("\\x") + "0123456789abcdef"[(c >> 4) & 15] +
                               "0123456789abcdef"[c & 15]) +
                    "'");
    while (cur != buffer.end() && (static_cast<unsigned char>(*cur) & 0x80))
      ++cur;
    return make(Token::Error, start);
  }
}
