package org.rnn4j.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * One small local SparkContext for all Spark test classes (a JVM may hold only one, and starting one
 * takes seconds): {@code local[2,3]}, two task threads and up to three attempts per task; no UI,
 * loopback only, few partitions. Stopped when the test JVM exits.
 */
public final class SparkTestContext {
    private static JavaSparkContext shared;

    private SparkTestContext() {
    }

    public static synchronized JavaSparkContext shared() {
        if (shared == null) {
            SparkConf conf = new SparkConf().setMaster("local[2,3]").setAppName("rnn4j-test")
                    .set("spark.ui.enabled", "false")
                    .set("spark.driver.host", "127.0.0.1")
                    .set("spark.driver.bindAddress", "127.0.0.1")
                    .set("spark.default.parallelism", "2")
                    .set("spark.sql.shuffle.partitions", "2");
            shared = new JavaSparkContext(conf);
            JavaSparkContext sc = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(sc::stop));
        }
        return shared;
    }
}
