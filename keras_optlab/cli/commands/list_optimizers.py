"""`optlab list`: the optimizers with their papers."""

NAME = "list"
HELP = "List the optimizers with a one-line description and their paper."


def add_arguments(parser):
    parser.add_argument(
        "--format", choices=("table", "markdown"), default="table",
        help="plain text table (default) or a Markdown table",
    )
    parser.add_argument(
        "--hyperparameters", action="store_true",
        help="each optimizer's hyperparameters (Markdown, docs/optimizers.md)",
    )


# Where the paper puts `weight_decay` inside its rule, the same keyword
# means something else than Keras' decoupled decay: the table says so.
COUPLED = "coupled (inside the paper's rule)"


def format_table(rows, markdown=False):
    if markdown:
        lines = ["| name | class | what it does | weight_decay | paper |",
                 "|---|---|---|---|---|"]
        lines += [f"| `{r.name}` | `{r.cls.__name__}` | {r.description} | "
                  f"{r.weight_decay} | {r.reference} |" for r in rows]
        return "\n".join(lines)
    width = max(len(r.name) for r in rows)
    lines = []
    for r in rows:
        lines.append(f"{r.name:<{width}}  {r.description}")
        if r.weight_decay == "coupled":
            lines.append(f"{'':<{width}}  weight_decay: {COUPLED}")
        lines.append(f"{'':<{width}}  paper: {r.reference}")
    return "\n".join(lines)


def check(args):
    """Nothing to check beyond what argparse does."""


def run(args):
    from keras_optlab import optimizers

    if args.hyperparameters:
        print(optimizers.hyperparameter_markdown(), end="")
        return 0
    print(format_table(optimizers.available(), args.format == "markdown"))
    return 0
