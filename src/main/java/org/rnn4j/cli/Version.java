package org.rnn4j.cli;

import picocli.CommandLine.IVersionProvider;

/** The library version from the jar manifest (or "dev" when run from classes). */
public final class Version implements IVersionProvider {

    public static String get() {
        String v = Version.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Override
    public String[] getVersion() {
        return new String[] {"rnn4j " + get()};
    }
}
