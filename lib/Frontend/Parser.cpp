//===- Parser.cpp - .seq recursive-descent parser -------------------------===//
//
// Grammar (see docs/language.md for the full reference):
//   file    := model*
//   model   := 'model' NAME ['(' NAME '=' INT {',' NAME '=' INT} ')'] '{' item* '}'
//   item    := decl | 'step' '{' stmt* '}'
//   decl    := ROLE NAME ':' type ['=' signed] ['~' NAME '(' signed ',' signed ')']
//   stmt    := NAME '=' expr
//   expr    := sum [CMP sum];  sum := prod {('+'|'-') prod}
//   prod    := unary {('*'|'/'|'@') unary};  unary := '-' unary | postfix
//   postfix := primary {'[' items ']' | '.T'}
//
//===----------------------------------------------------------------------===//
#include "seqc/Frontend/Parser.h"
#include "seqc/Frontend/Lexer.h"

#include "llvm/ADT/StringSwitch.h"
#include <cmath>
#include <deque>

using namespace seqc;
using llvm::SMLoc;
using llvm::StringRef;

namespace {

class Parser {
public:
  explicit Parser(Diagnostics &diags)
      : diags(diags),
        lexer(diags.getSourceMgr()
                  .getMemoryBuffer(diags.getSourceMgr().getMainFileID())
                  ->getBuffer(),
              diags) {
    tok = lexer.next();
  }

  Module parseFile();

private:
  // Token handling ----------------------------------------------------------
  void consume() {
    if (!pending.empty()) {
      tok = pending.front();
      pending.pop_front();
    } else {
      tok = lexer.next();
    }
  }
  const Token &peek() {
    if (pending.empty())
      pending.push_back(lexer.next());
    return pending.front();
  }
  bool consumeIf(Token::Kind kind) {
    if (!tok.is(kind))
      return false;
    consume();
    return true;
  }
  bool expect(Token::Kind kind, StringRef what) {
    if (tok.is(kind)) {
      consume();
      return true;
    }
    errorHere("expected " + std::string(tokenKindName(kind)) + " " + what.str());
    return false;
  }
  void errorHere(const llvm::Twine &message) {
    if (tok.is(Token::Error))
      return; // the lexer has already said what is wrong here
    std::string found = tok.is(Token::Newline) || tok.is(Token::Eof)
                            ? tokenKindName(tok.kind)
                            : "'" + tok.text.str() + "'";
    diags.error(tok.loc(), message + ", found " + found);
  }
  void skipNewlines() {
    while (tok.is(Token::Newline) || tok.is(Token::Semicolon))
      consume();
  }
  /// Error recovery: skip to the end of the current line, or to a '}' that
  /// closes the enclosing block (left for the caller).
  void skipStatement() {
    while (!tok.is(Token::Eof) && !tok.is(Token::Newline) &&
           !tok.is(Token::RBrace) && !tok.is(Token::Semicolon))
      consume();
  }
  bool atStatementEnd() {
    return tok.is(Token::Newline) || tok.is(Token::Semicolon) ||
           tok.is(Token::RBrace) || tok.is(Token::Eof);
  }

  // Grammar -----------------------------------------------------------------
  bool parseModel(Model &model);
  bool parseDecl(Model &model);
  bool parseStep(Model &model);
  /// Parses `{ item* }`, items separated by newlines; `parseItem` parses one
  /// item and recovers from its own errors. False if the block is not closed.
  bool parseBlock(StringRef what, StringRef closes, llvm::function_ref<void()> parseItem);
  bool parseSignedNumber(double &value);
  bool parseDimRef(DimRef &dim, bool allowNegative);
  ExprPtr parseExpr();
  ExprPtr parseSum();
  ExprPtr parseProduct();
  /// One precedence level of left-associative binary operators.
  ExprPtr parseLeftAssociative(std::initializer_list<Token::Kind> operators,
                               ExprPtr (Parser::*parseOperand)());
  ExprPtr parseUnary();
  ExprPtr parsePostfix();
  ExprPtr parsePrimary();
  bool parseIndexItem(IndexItem &item);
  /// Sets `e`'s depth from its operands; rejects trees deeper than kMaxExprDepth.
  ExprPtr finish(ExprPtr e);

  /// Guards the parser's recursion (parentheses add no AST node to count).
  struct NestingGuard {
    Parser &p;
    explicit NestingGuard(Parser &p) : p(p) { ++p.nesting; }
    ~NestingGuard() { --p.nesting; }
  };
  int nesting = 0;

  Diagnostics &diags;
  Lexer lexer;
  Token tok;
  std::deque<Token> pending;
};

} // namespace

Module Parser::parseFile() {
  Module module;
  while (true) {
    skipNewlines();
    if (tok.is(Token::Eof))
      break;
    if (!tok.isIdent("model")) {
      errorHere("expected 'model'");
      // Skip to the next line that starts a model.
      while (!tok.is(Token::Eof)) {
        consume();
        if (tok.isIdent("model"))
          break;
      }
      continue;
    }
    Model model;
    if (parseModel(model)) {
      module.models.push_back(std::move(model));
    } else {
      while (!tok.is(Token::Eof) && !tok.isIdent("model"))
        consume();
    }
  }
  return module;
}

bool Parser::parseModel(Model &model) {
  consume(); // 'model'
  model.loc = tok.loc();
  if (!tok.is(Token::Ident)) {
    errorHere("expected the model's name");
    return false;
  }
  model.name = tok.text.str();
  consume();
  if (consumeIf(Token::LParen)) {
    if (!tok.is(Token::RParen)) {
      do {
        DimDecl dim;
        dim.loc = tok.loc();
        if (!tok.is(Token::Ident)) {
          errorHere("expected a dim name");
          return false;
        }
        dim.name = tok.text.str();
        consume();
        if (!expect(Token::Assign, "after the dim name (dims need a default, as in 'H = 128')"))
          return false;
        if (!tok.is(Token::Number) || !tok.isInteger) {
          errorHere("expected an integer default for dim '" + dim.name + "'");
          return false;
        }
        if (tok.number > 1e9) {
          diags.error(tok.loc(), "dim '" + dim.name + "' is too large");
          return false;
        }
        dim.value = static_cast<int64_t>(tok.number);
        consume();
        model.dims.push_back(dim);
      } while (consumeIf(Token::Comma));
    }
    if (!expect(Token::RParen, "to close the dim list"))
      return false;
  }
  parseBlock("the model's body", "model '" + model.name + "'", [&] {
    bool ok;
    if (tok.isIdent("step")) {
      ok = parseStep(model);
    } else if (tok.isIdent("input") || tok.isIdent("param") || tok.isIdent("state") ||
               tok.isIdent("output")) {
      ok = parseDecl(model);
    } else {
      errorHere("expected 'input', 'param', 'state', 'output' or 'step'");
      ok = false;
    }
    if (!ok) {
      skipStatement();
    } else if (!atStatementEnd()) {
      errorHere("expected end of line");
      skipStatement();
    }
  });
  // Even an unclosed model is kept, so that Sema reports what else is wrong.
  return true;
}

bool Parser::parseBlock(StringRef what, StringRef closes,
                        llvm::function_ref<void()> parseItem) {
  skipNewlines();
  if (!expect(Token::LBrace, "to open " + what.str()))
    return false;
  while (true) {
    skipNewlines();
    if (tok.is(Token::RBrace)) {
      consume();
      return true;
    }
    if (tok.is(Token::Eof)) {
      errorHere("expected '}' to close " + closes.str());
      return false;
    }
    parseItem();
  }
}

bool Parser::parseSignedNumber(double &value) {
  bool negative = consumeIf(Token::Minus);
  if (tok.is(Token::Number)) {
    value = tok.number;
  } else if (tok.isIdent("inf")) {
    value = HUGE_VAL;
  } else {
    errorHere("expected a number");
    return false;
  }
  consume();
  if (negative)
    value = -value;
  return true;
}

bool Parser::parseDimRef(DimRef &dim, bool allowNegative) {
  dim.loc = tok.loc();
  bool negative = allowNegative && consumeIf(Token::Minus);
  if (tok.is(Token::Number) && tok.isInteger) {
    if (tok.number > 1e9) {
      diags.error(tok.loc(), "size " + tok.text + " is too large");
      return false;
    }
    dim.value = static_cast<int64_t>(tok.number) * (negative ? -1 : 1);
    consume();
    return true;
  }
  if (tok.is(Token::Ident) && !negative) {
    dim.name = tok.text.str();
    consume();
    return true;
  }
  errorHere("expected an integer or a dim name");
  return false;
}

bool Parser::parseDecl(Model &model) {
  Decl decl;
  decl.role = llvm::StringSwitch<Decl::Role>(tok.text)
                  .Case("input", Decl::Input)
                  .Case("param", Decl::Param)
                  .Case("state", Decl::State)
                  .Default(Decl::Output);
  consume();
  decl.loc = tok.loc();
  if (!tok.is(Token::Ident)) {
    errorHere("expected a name to declare");
    return false;
  }
  decl.name = tok.text.str();
  consume();
  if (!expect(Token::Colon, "after '" + decl.name + "' (a declaration is 'NAME : TYPE')"))
    return false;
  decl.elementTypeLoc = tok.loc();
  if (!tok.is(Token::Ident)) {
    errorHere("expected an element type such as 'f32'");
    return false;
  }
  decl.elementType = tok.text.str();
  consume();
  if (consumeIf(Token::LBracket)) {
    do {
      DimRef dim;
      if (!parseDimRef(dim, /*allowNegative=*/false))
        return false;
      decl.dims.push_back(dim);
    } while (consumeIf(Token::Comma));
    if (!expect(Token::RBracket, "to close the shape"))
      return false;
  }
  if (tok.is(Token::Assign)) {
    SMLoc loc = tok.loc();
    consume();
    if (decl.role != Decl::State) {
      diags.error(loc, "only a state has an initial value");
      return false;
    }
    double value;
    if (!parseSignedNumber(value))
      return false;
    decl.init = value;
  }
  if (tok.is(Token::Tilde)) {
    SMLoc loc = tok.loc();
    consume();
    if (decl.role != Decl::Input && decl.role != Decl::Param) {
      diags.error(loc, "only an input or a param can say how its test data is drawn");
      return false;
    }
    SMLoc distLoc = tok.loc();
    if (tok.isIdent("uniform")) {
      decl.dist.kind = Distribution::Uniform;
    } else if (tok.isIdent("normal")) {
      decl.dist.kind = Distribution::Normal;
    } else {
      errorHere("expected 'uniform' or 'normal'");
      return false;
    }
    consume();
    if (!expect(Token::LParen, "after the distribution's name") ||
        !parseSignedNumber(decl.dist.a) || !expect(Token::Comma, "between the two numbers") ||
        !parseSignedNumber(decl.dist.b) || !expect(Token::RParen, "to close the distribution"))
      return false;
    if (!std::isfinite(decl.dist.a) || !std::isfinite(decl.dist.b)) {
      diags.error(distLoc, "a distribution's parameters must be finite");
      return false;
    }
    if (decl.dist.kind == Distribution::Uniform && !(decl.dist.a <= decl.dist.b)) {
      diags.error(distLoc, "uniform(lo, hi) needs lo <= hi");
      return false;
    }
    if (decl.dist.kind == Distribution::Normal && !(decl.dist.b >= 0)) {
      diags.error(distLoc, "normal(mean, stddev) needs stddev >= 0");
      return false;
    }
  }
  model.decls(decl.role).push_back(std::move(decl));
  return true;
}

bool Parser::parseStep(Model &model) {
  SMLoc loc = tok.loc();
  consume(); // 'step'
  // A second block is reported, then parsed into a scratch model and dropped,
  // so that the parser stays in step with the braces and adds no cascade.
  Model scratch;
  Model &target = model.hasStep ? scratch : model;
  if (model.hasStep)
    diags.error(loc, "model '" + model.name + "' has a second 'step' block");
  target.hasStep = true;
  target.stepLoc = loc;
  return parseBlock("the step block", "the step block", [&] {
    Stmt stmt;
    stmt.loc = tok.loc();
    bool ok = false;
    if (!tok.is(Token::Ident)) {
      errorHere("expected an assignment 'NAME = EXPR'");
    } else {
      stmt.target = tok.text.str();
      consume();
      if (expect(Token::Assign, "after '" + stmt.target + "' (a statement is 'NAME = EXPR')")) {
        stmt.value = parseExpr();
        ok = stmt.value != nullptr;
        if (ok && !atStatementEnd()) {
          errorHere("expected end of line after the expression");
          ok = false;
        }
      }
    }
    if (ok)
      target.step.push_back(std::move(stmt));
    else
      skipStatement();
  });
}

static std::optional<CmpKind> comparison(Token::Kind kind) {
  switch (kind) {
  case Token::Less: return CmpKind::LT;
  case Token::LessEq: return CmpKind::LE;
  case Token::Greater: return CmpKind::GT;
  case Token::GreaterEq: return CmpKind::GE;
  case Token::EqEq: return CmpKind::EQ;
  case Token::NotEq: return CmpKind::NE;
  default: return std::nullopt;
  }
}

ExprPtr Parser::finish(ExprPtr e) {
  if (!e)
    return e;
  for (const ExprPtr &arg : e->args)
    e->depth = std::max(e->depth, arg->depth + 1);
  for (const KeywordArg &kw : e->kwargs)
    e->depth = std::max(e->depth, kw.value->depth + 1);
  if (e->depth > kMaxExprDepth) {
    diags.error(e->loc, "expression is nested too deeply (more than " +
                            llvm::Twine(kMaxExprDepth) + " levels); split it into several statements");
    return nullptr;
  }
  return e;
}

ExprPtr Parser::parseExpr() {
  ExprPtr lhs = parseSum();
  if (!lhs)
    return nullptr;
  if (auto cmp = comparison(tok.kind)) {
    auto e = std::make_unique<Expr>(Expr::Compare, tok.loc());
    e->cmp = *cmp;
    consume();
    ExprPtr rhs = parseSum();
    if (!rhs)
      return nullptr;
    e->args.push_back(std::move(lhs));
    e->args.push_back(std::move(rhs));
    if (comparison(tok.kind)) {
      errorHere("comparisons cannot be chained");
      return nullptr;
    }
    return finish(std::move(e));
  }
  return lhs;
}

ExprPtr Parser::parseLeftAssociative(std::initializer_list<Token::Kind> operators,
                                     ExprPtr (Parser::*parseOperand)()) {
  ExprPtr lhs = (this->*parseOperand)();
  while (lhs && llvm::is_contained(operators, tok.kind)) {
    auto e = std::make_unique<Expr>(Expr::Binary, tok.loc());
    e->op = tok.text[0];
    consume();
    ExprPtr rhs = (this->*parseOperand)();
    if (!rhs)
      return nullptr;
    e->args.push_back(std::move(lhs));
    e->args.push_back(std::move(rhs));
    lhs = finish(std::move(e));
  }
  return lhs;
}

ExprPtr Parser::parseSum() {
  return parseLeftAssociative({Token::Plus, Token::Minus}, &Parser::parseProduct);
}

ExprPtr Parser::parseProduct() {
  return parseLeftAssociative({Token::Star, Token::Slash, Token::At}, &Parser::parseUnary);
}

ExprPtr Parser::parseUnary() {
  // Every recursion of the grammar (parentheses, calls, unary minus) passes
  // through here, so this one counter bounds the parser's stack.
  NestingGuard guard(*this);
  if (nesting > kMaxExprDepth) {
    diags.error(tok.loc(), "expression is nested too deeply (more than " +
                               llvm::Twine(kMaxExprDepth) + " levels); split it into several statements");
    return nullptr;
  }
  if (tok.is(Token::Minus)) {
    auto e = std::make_unique<Expr>(Expr::Neg, tok.loc());
    consume();
    ExprPtr operand = parseUnary();
    if (!operand)
      return nullptr;
    e->args.push_back(std::move(operand));
    return finish(std::move(e));
  }
  if (tok.is(Token::Plus)) {
    consume();
    return parseUnary();
  }
  return parsePostfix();
}

bool Parser::parseIndexItem(IndexItem &item) {
  item.loc = tok.loc();
  if (tok.isIdent("None")) {
    consume();
    item.kind = IndexItem::NewAxis;
    return true;
  }
  if (!tok.is(Token::Colon)) {
    DimRef lo;
    if (!parseDimRef(lo, /*allowNegative=*/true))
      return false;
    item.lo = lo;
  }
  if (!consumeIf(Token::Colon)) {
    item.kind = IndexItem::Single;
    return true;
  }
  item.kind = IndexItem::Slice;
  if (!tok.is(Token::Comma) && !tok.is(Token::RBracket)) {
    DimRef hi;
    if (!parseDimRef(hi, /*allowNegative=*/true))
      return false;
    item.hi = hi;
  }
  if (tok.is(Token::Colon)) {
    errorHere("slices with a step are not supported");
    return false;
  }
  return true;
}

ExprPtr Parser::parsePostfix() {
  ExprPtr e = parsePrimary();
  while (e) {
    if (tok.is(Token::LBracket)) {
      auto idx = std::make_unique<Expr>(Expr::Index, tok.loc());
      consume();
      do {
        IndexItem item;
        if (!parseIndexItem(item))
          return nullptr;
        idx->index.push_back(item);
      } while (consumeIf(Token::Comma));
      if (!expect(Token::RBracket, "to close the subscript"))
        return nullptr;
      idx->args.push_back(std::move(e));
      e = finish(std::move(idx));
    } else if (tok.is(Token::Dot)) {
      SMLoc loc = tok.loc();
      consume();
      if (!tok.isIdent("T")) {
        errorHere("expected 'T' after '.' (the only attribute is '.T', the transpose)");
        return nullptr;
      }
      consume();
      auto t = std::make_unique<Expr>(Expr::Transpose, loc);
      t->args.push_back(std::move(e));
      e = finish(std::move(t));
    } else {
      break;
    }
  }
  return e;
}

ExprPtr Parser::parsePrimary() {
  if (tok.is(Token::Number)) {
    auto e = std::make_unique<Expr>(Expr::Number, tok.loc());
    e->number = tok.number;
    consume();
    return e;
  }
  if (tok.is(Token::String)) {
    auto e = std::make_unique<Expr>(Expr::String, tok.loc());
    e->name = tok.text.drop_front().drop_back().str();
    consume();
    return e;
  }
  if (tok.is(Token::LParen)) {
    consume();
    ExprPtr inner = parseExpr();
    if (!inner)
      return nullptr;
    if (!expect(Token::RParen, "to close the parenthesis"))
      return nullptr;
    return inner;
  }
  if (tok.is(Token::Ident)) {
    if (tok.text == "inf") {
      auto e = std::make_unique<Expr>(Expr::Number, tok.loc());
      e->number = HUGE_VAL;
      consume();
      return e;
    }
    auto e = std::make_unique<Expr>(Expr::Name, tok.loc());
    e->name = tok.text.str();
    consume();
    if (!tok.is(Token::LParen))
      return e;
    e->kind = Expr::Call;
    consume();
    bool seenKeyword = false;
    if (!tok.is(Token::RParen)) {
      do {
        if (tok.is(Token::Ident) && peek().is(Token::Assign)) {
          KeywordArg kw;
          kw.name = tok.text.str();
          kw.loc = tok.loc();
          consume();
          consume();
          if (e->getKeyword(kw.name)) {
            diags.error(kw.loc, "keyword argument '" + kw.name + "' given twice");
            return nullptr;
          }
          kw.value = parseExpr();
          if (!kw.value)
            return nullptr;
          e->kwargs.push_back(std::move(kw));
          seenKeyword = true;
        } else {
          if (seenKeyword) {
            errorHere("expected a keyword argument (positional arguments come first)");
            return nullptr;
          }
          ExprPtr arg = parseExpr();
          if (!arg)
            return nullptr;
          e->args.push_back(std::move(arg));
        }
      } while (consumeIf(Token::Comma));
    }
    if (!expect(Token::RParen, "to close the argument list of '" + e->name + "'"))
      return nullptr;
    return finish(std::move(e));
  }
  errorHere("expected an expression");
  return nullptr;
}

Module seqc::parseModule(Diagnostics &diags) {
  Parser parser(diags);
  return parser.parseFile();
}
