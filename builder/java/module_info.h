// What a jar says about the Java modules it needs: its module-info.class (a Java class file with
// a Module attribute, JVMS §4.7.25), at the jar's root or under META-INF/versions/N/ of a
// multi-release jar. Input: jar bytes or a path. Output: ModuleDecl. No side effects.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace romimg::java {

struct ModuleRequire {
    std::string name;
    bool is_static = false;      // ACC_STATIC_PHASE: needed to compile, optional at run time
    bool transitive = false;     // ACC_TRANSITIVE
};

struct ModuleDecl {
    std::string name;
    std::vector<ModuleRequire> requires_;
};

// Pure. Parses a module-info.class; throws Error naming `what` when the bytes are not a class
// file with a Module attribute.
ModuleDecl parse_module_info(const std::string& class_bytes, const std::string& what);

// The jar's module declaration, if it has one: the root module-info.class, else the one under
// META-INF/versions/N/ with the highest N <= `feature` (the runtime's version, e.g. 17).
// Throws Error for a file that is not a readable jar (zip).
std::optional<ModuleDecl> jar_module(const std::string& jar_path, int feature);

}  // namespace romimg::java
