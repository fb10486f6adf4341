#!/usr/bin/env bash
# Refuses Catch2 test names that catch_discover_tests cannot register: it keeps the names in a
# CMake list, so a ';' cuts a name in two, neither half matches a case and the "test" passes
# without running anything (issue 14); and a name starting with '-' reaches Catch2 as an
# option ("Unrecognised token"). Usage: check_test_names.sh DIR   (exit 1 on a bad name)
#                                             check_test_names.sh --self-test
set -u
scan() {  # prints file:line:text of every TEST_CASE/SCENARIO/TEST_CASE_METHOD name holding a ';'
  # or starting with '-'
  grep -rnE --include='*.cpp' --include='*.h' \
    '(TEST_CASE|TEST_CASE_METHOD|SCENARIO|TEMPLATE_TEST_CASE)[[:space:]]*\([[:space:]]*([^",]*,[[:space:]]*)?"([^"]*;|-)' "$1"
}
if [ "${1:-}" = "--self-test" ]; then
  dir=$(mktemp -d) || exit 2
  trap 'rm -rf "$dir"' EXIT
  printf 'TEST_CASE("fine name, with a comma", "[unit]") {}\n' > "$dir/good_test.cpp"
  "$0" "$dir" > /dev/null || { echo "self-test: a clean tree was refused"; exit 1; }
  # '@' stands for ';' until written out, so this file holds no bad name itself (the
  # before-stop hook greps tests/ for one).
  for bad in 'TEST_CASE("one@ two", "[unit]") {}' \
             'TEST_CASE_METHOD(Fixture, "a@ b", "[unit]") {}' \
             '  SCENARIO( "x@y" ) {}' \
             'TEST_CASE("-flag does things", "[unit]") {}'; do
    bad=${bad//@/;}
    printf '%s\n' "$bad" > "$dir/bad_test.cpp"
    if "$0" "$dir" > /dev/null; then echo "self-test: not refused: $bad"; exit 1; fi
  done
  echo "check_test_names self-test: ok"
  exit 0
fi
root=${1:-.}
hits=$(scan "$root")
if [ -n "$hits" ]; then
  echo "test names with ';' (catch_discover_tests splits them and runs nothing) or a leading '-' (an option to Catch2):"
  echo "$hits"
  exit 1
fi
echo "test names: ok"
