package org.rnn4j.cuda;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Chooses the cuBLAS binding at start-up and says why.
 *
 * <p>Order: {@code RNN4J_CUBLAS} when set (a full path to a {@code libcublas.so.*}, bound through
 * JNA, or {@code jcublas} for JCublas2; an explicit choice is the only one tried); otherwise
 * JNA with the sonames {@code libcublas.so.13} and {@code libcublas.so.12} (JNA first: a GEMM through
 * it costs the host well under a microsecond, through JCublas2 several, see {@code kernels/ABI.md}),
 * then JCublas2 ({@code libcublas.so.12} on the system loader's path), then JNA with the files found in common
 * locations ({@link #commonLocations}): the CUDA toolkit, the distribution's library folder, and
 * the {@code nvidia/*} folders of Python wheels (PyTorch ships cuBLAS there), including those of
 * every Python environment on the {@code PATH} (a virtual environment that is not activated, such
 * as {@code /opt/torch/.venv} on the GPU hosts we borrow). The first that loads and creates a
 * handle on the engine's stream wins.
 */
final class CublasLoader {

    static final String ENV = "RNN4J_CUBLAS";

    private static final String[] SONAMES = {"libcublas.so.13", "libcublas.so.12"};

    private CublasLoader() {
    }

    /** One way of getting cuBLAS: JCublas2 ({@code library == null}) or JNA on {@code library}. */
    record Candidate(String label, String library) {
        boolean isJCublas() {
            return library == null;
        }

        CublasBinding load() {
            return isJCublas() ? JCublasBinding.load() : JnaCublasBinding.load(library);
        }

        /** Loads without creating a handle: "cuBLAS V via X (path)". */
        String inspect() {
            if (isJCublas()) {
                return JCublasBinding.load().describe();
            }
            String[] versionAndPath = JnaCublasBinding.inspect(library);
            return "cuBLAS " + versionAndPath[0] + " via JNA (" + versionAndPath[1] + ")";
        }
    }

    /** The candidates in the order they are tried, given the environment and the file system root. */
    static List<Candidate> candidates(Map<String, String> env, Path root) {
        String forced = env.get(ENV);
        List<Candidate> list = new ArrayList<>();
        if (forced != null && !forced.isBlank()) {
            String f = forced.trim();
            String lower = f.toLowerCase(Locale.ROOT);
            if (lower.equals("jcublas") || lower.equals("jcublas2")) {
                list.add(new Candidate(ENV + "=" + f + ": JCublas2", null));
            } else {
                list.add(new Candidate(ENV + "=" + f + ": JNA", f));
            }
            return list;
        }
        for (String soname : SONAMES) {
            list.add(new Candidate("JNA " + soname, soname));
        }
        list.add(new Candidate("JCublas2 (" + JCublasBinding.LIBRARY + ")", null));
        for (Path p : commonLocations(root, env)) {
            list.add(new Candidate("JNA " + p, p.toString()));
        }
        return list;
    }

    /**
     * {@code libcublas.so.13} files, then {@code libcublas.so.12} files, that exist under the
     * common locations below {@code root} ({@code /} outside tests): {@code /usr/local/cuda/lib64}
     * (and its {@code targets/x86_64-linux/lib}), {@code /usr/local/cuda-*}{@code /lib64} newest
     * first, {@code /usr/lib/x86_64-linux-gnu}, and {@code nvidia/cublas/lib}, {@code nvidia/cu13/lib},
     * {@code nvidia/cu12/lib} in the {@code site-packages} / {@code dist-packages} of
     * {@code /usr/lib/python3*}, {@code /usr/local/lib/python3*}, {@code /opt/conda/lib/python3*},
     * of {@code $VIRTUAL_ENV}, {@code $CONDA_PREFIX} when set, and of {@code D/../lib/python3*} for
     * each folder {@code D} of {@code $PATH} that holds a {@code python3}, and of each folder that
     * file's chain of symbolic links passes through (a virtual environment's {@code bin/python3} links
     * to the system's interpreter while its packages are beside its own {@code bin}; a
     * {@code /usr/local/bin/python3} may link to a venv's).
     */
    static List<Path> commonLocations(Path root, Map<String, String> env) {
        List<Path> dirs = new ArrayList<>();
        dirs.add(root.resolve("usr/local/cuda/lib64"));
        dirs.add(root.resolve("usr/local/cuda/targets/x86_64-linux/lib"));
        for (Path cuda : listSorted(root.resolve("usr/local"), "cuda-*")) {
            dirs.add(cuda.resolve("lib64"));
            dirs.add(cuda.resolve("targets/x86_64-linux/lib"));
        }
        dirs.add(root.resolve("usr/lib/x86_64-linux-gnu"));
        List<Path> libDirs = new ArrayList<>(List.of(
                root.resolve("usr/lib"), root.resolve("usr/local/lib"), root.resolve("opt/conda/lib")));
        for (String var : new String[] {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
            String prefix = env.get(var);
            if (prefix != null && prefix.startsWith("/")) {
                libDirs.add(under(root, prefix).resolve("lib"));
            }
        }
        for (String entry : env.getOrDefault("PATH", "").split(":")) {
            if (entry.startsWith("/")) {
                libDirs.addAll(pythonLibDirs(root, under(root, entry).resolve("python3")));
            }
        }
        for (Path lib : libDirs) {
            for (Path python : listSorted(lib, "python3*")) {
                for (String packages : new String[] {"site-packages", "dist-packages"}) {
                    Path nvidia = python.resolve(packages).resolve("nvidia");
                    dirs.add(nvidia.resolve("cublas/lib"));
                    dirs.add(nvidia.resolve("cu13/lib"));
                    dirs.add(nvidia.resolve("cu12/lib"));
                }
            }
        }
        Set<Path> found = new LinkedHashSet<>();
        for (String soname : SONAMES) {
            for (Path dir : dirs) {
                Path file = dir.resolve(soname);
                if (Files.exists(file)) {
                    found.add(file);
                }
            }
        }
        return new ArrayList<>(found);
    }

    /**
     * {@code X/lib} for the {@code X/bin} holding {@code python}, and for each link on its way to the real
     * file (at most 8), when {@code python} exists.
     */
    private static List<Path> pythonLibDirs(Path root, Path python) {
        List<Path> out = new ArrayList<>();
        Path p = python.normalize();
        try {
            for (int hop = 0; hop < 8 && Files.exists(p, LinkOption.NOFOLLOW_LINKS); hop++) {
                Path bin = p.getParent();
                if (bin != null && bin.getParent() != null) {
                    out.add(bin.getParent().resolve("lib"));
                }
                if (!Files.isSymbolicLink(p)) {
                    break;
                }
                String target = Files.readSymbolicLink(p).toString();
                p = (target.startsWith("/") ? under(root, target) : bin.resolve(target)).normalize();
            }
        } catch (IOException | RuntimeException e) {
            return out;   // an unreadable link: the folders found so far
        }
        return out;
    }

    /** The absolute path {@code absolute} inside {@code root} (itself when the root is {@code /}). */
    private static Path under(Path root, String absolute) {
        return root.resolve(absolute.replaceFirst("^/+", ""));
    }

    /** Entries of {@code dir} matching {@code glob}, highest name first (newest toolkit, newest Python). */
    private static List<Path> listSorted(Path dir, String glob) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
            for (Path p : ds) {
                if (Files.isDirectory(p)) {
                    out.add(p);
                }
            }
        } catch (IOException | RuntimeException e) {
            return out;
        }
        out.sort(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed());
        return out;
    }

    /**
     * Tries each candidate: load, create a handle, set the stream, pointer mode host and exact
     * FP32 math. The engine's context must be current.
     *
     * @throws IllegalStateException naming every candidate tried and why it failed
     */
    static CublasBinding open(Driver.Stream stream) {
        List<String> reasons = new ArrayList<>();
        for (Candidate c : candidates(System.getenv(), Path.of("/"))) {
            CublasBinding b = null;
            try {
                b = c.load();
                configure(b, stream);
                return b;
            } catch (Throwable t) {
                reasons.add(c.label() + ": " + reason(t));
                if (b != null) {
                    try {
                        b.close();
                    } catch (Throwable ignored) {
                        // the failure above is the one worth reporting
                    }
                }
            }
        }
        throw new IllegalStateException("no usable cuBLAS: " + String.join("; ", reasons)
                + hint());
    }

    /**
     * A second handle of {@code binding}'s library on {@code stream}, set up as {@link #open} sets the first (an
     * engine's capture stream has its own, so that another thread's GEMMs never follow the capture).
     */
    static CublasBinding openSibling(CublasBinding binding, Driver.Stream stream) {
        CublasBinding b = binding.sibling();
        try {
            configure(b, stream);
            return b;
        } catch (RuntimeException e) {
            try {
                b.close();
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** Creates {@code b}'s handle on {@code stream}, pointer mode host, exact FP32 math. */
    private static void configure(CublasBinding b, Driver.Stream stream) {
        b.create();
        b.setStream(stream);
        b.setPointerModeHost();
        b.setMathMode(CublasBinding.EXACT_FP32_MATH);
    }

    /** Lines for {@link CudaEngine#probe()}: the binding that would be used, or why none. */
    static List<String> probe() {
        List<String> lines = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        List<Candidate> candidates;
        try {
            candidates = candidates(System.getenv(), Path.of("/"));
        } catch (Throwable t) {
            lines.add("cuBLAS: cannot list candidates: " + reason(t));
            return lines;
        }
        for (Candidate c : candidates) {
            try {
                String found = c.inspect();
                lines.add("cuBLAS: " + found + " would be used");
                for (String f : failed) {
                    lines.add("  (tried first: " + f + ")");
                }
                return lines;
            } catch (Throwable t) {
                failed.add(c.label() + ": " + reason(t));
            }
        }
        lines.add("cuBLAS: none usable" + hint());
        for (String f : failed) {
            lines.add("  tried " + f);
        }
        return lines;
    }

    private static String hint() {
        return " (install CUDA 12's libcublas.so.12 or CUDA 13's libcublas.so.13, or set " + ENV
                + " to the full path of one)";
    }

    static String reason(Throwable t) {
        if (t instanceof IllegalStateException || t instanceof CudaException) {
            return String.valueOf(t.getMessage());
        }
        return Driver.conciseLinkError(t);
    }

    /**
     * The file a library was really loaded from, read from {@code /proc/self/maps} (a soname
     * resolved by the system loader has no path of its own), or {@code fallback}.
     */
    static String loadedPath(String library, String fallback) {
        String name = Path.of(library).getFileName().toString();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash < 0) {
                    continue;
                }
                String path = line.substring(slash).trim();
                String file = path.substring(path.lastIndexOf('/') + 1);
                if (file.startsWith(name)) {
                    return path;
                }
            }
        } catch (IOException | RuntimeException e) {
            return fallback;
        }
        return fallback;
    }
}
