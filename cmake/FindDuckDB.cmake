# Finds DuckDB's C API: duckdb.h and libduckdb.so.
# Honours DUCKDB_ROOT (CMake or environment variable) for users who bring their own
# libduckdb; otherwise looks in third_party/duckdb, filled by scripts/fetch-duckdb.sh.
# Defines the imported target DuckDB::duckdb.
set(_duckdb_hints)
if(DUCKDB_ROOT)
  list(APPEND _duckdb_hints "${DUCKDB_ROOT}")
endif()
if(DEFINED ENV{DUCKDB_ROOT})
  list(APPEND _duckdb_hints "$ENV{DUCKDB_ROOT}")
endif()
list(APPEND _duckdb_hints "${PROJECT_SOURCE_DIR}/third_party/duckdb")

find_path(DuckDB_INCLUDE_DIR duckdb.h HINTS ${_duckdb_hints} PATH_SUFFIXES include NO_DEFAULT_PATH)
find_library(DuckDB_LIBRARY duckdb HINTS ${_duckdb_hints} PATH_SUFFIXES lib build/release/src NO_DEFAULT_PATH)
if(NOT DuckDB_INCLUDE_DIR OR NOT DuckDB_LIBRARY)
  find_path(DuckDB_INCLUDE_DIR duckdb.h)
  find_library(DuckDB_LIBRARY duckdb)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(DuckDB REQUIRED_VARS DuckDB_LIBRARY DuckDB_INCLUDE_DIR)

if(DuckDB_FOUND AND NOT TARGET DuckDB::duckdb)
  add_library(DuckDB::duckdb SHARED IMPORTED)
  set_target_properties(DuckDB::duckdb PROPERTIES
    IMPORTED_LOCATION "${DuckDB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${DuckDB_INCLUDE_DIR}")
  get_filename_component(DuckDB_LIBRARY_DIR "${DuckDB_LIBRARY}" DIRECTORY)
endif()
