"""Train and evaluate a session recommender: python run_recbole_semsr.py --model=NISER --dataset=ml-100k [--key=value ...]"""
from recbole_semsr.cli import main

if __name__ == "__main__":
    main()
